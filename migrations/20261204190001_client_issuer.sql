-- A client is an issuer and a subject (SPEC §8): two identity providers may
-- each issue tokens for a subject `ops`, and those are two clients, with
-- scopes of their own. The key becomes (issuer, client_id).
--
-- Rows registered before this step have no issuer, stored as ''. The
-- receiver grants such a row to a token of the subject only while exactly
-- one issuer is configured, so that a deployment with one issuer keeps
-- working unchanged; with more, it is ignored until an operator registers
-- the client again with `linebacker-admin clients add --issuer`. With one
-- issuer configured, `clients add` and `clients remove` assign the row to
-- that issuer (replace, or remove, the row without one), so the rows
-- migrate as operators touch them.
ALTER TABLE client_authorizations ADD COLUMN issuer text NOT NULL DEFAULT '';
ALTER TABLE client_authorizations DROP CONSTRAINT client_authorizations_pkey;
ALTER TABLE client_authorizations ADD PRIMARY KEY (issuer, client_id);
