//! `auth.*`: bearer tokens (SPEC §8), which issuers sign them, for which
//! audience, and how long keys and client scopes are kept.

use std::time::Duration;

use serde::Deserialize;

use super::{AppEnv, ConfigError};

#[derive(Debug, Clone, Deserialize)]
pub struct AuthIssuer {
    pub issuer: String,
    pub jwks_url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub enabled: bool,
    pub audience: String,
    pub issuers: Vec<AuthIssuer>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway_secs: u64,
    /// A token naming an unknown `kid` refetches its issuer's JWKS at most
    /// this often, so random `kid`s cannot make the receiver hammer it.
    pub jwks_min_refresh_secs: u64,
    /// The JWKS of every issuer is refetched in the background this often,
    /// so a rotated key is known before a token signed with it arrives.
    pub jwks_refresh_secs: u64,
    /// How long a client's scopes are cached after a lookup.
    pub client_cache_secs: u64,
}

impl AuthSettings {
    /// With auth off nothing else is needed; with it on, issuers with their
    /// JWKS URLs and an audience. Outside `dev` and `test` a JWKS must come
    /// over `https://`: whoever can alter it in transit can sign tokens.
    pub(super) fn validate(&self, app_env: AppEnv) -> Result<(), ConfigError> {
        if !self.enabled {
            return Ok(());
        }
        if self.issuers.is_empty() {
            return Err(ConfigError::invalid("auth.issuers", "auth.enabled needs at least one {issuer, jwks_url}"));
        }
        if self.audience.trim().is_empty() {
            return Err(ConfigError::invalid("auth.audience", "auth.enabled needs the audience tokens must name"));
        }
        for issuer in &self.issuers {
            if issuer.issuer.trim().is_empty() {
                return Err(ConfigError::invalid("auth.issuers", "every issuer needs a non-empty issuer"));
            }
            if !(issuer.jwks_url.starts_with("http://") || issuer.jwks_url.starts_with("https://")) {
                return Err(ConfigError::invalid(
                    "auth.issuers",
                    format!("the jwks_url of {} must be an http:// or https:// URL", issuer.issuer),
                ));
            }
            if app_env == AppEnv::Production && !issuer.jwks_url.starts_with("https://") {
                return Err(ConfigError::invalid(
                    "auth.issuers[].jwks_url",
                    format!("of {} must be an https:// URL outside dev and test", issuer.issuer),
                ));
            }
        }
        if self.jwks_refresh_secs == 0 {
            return Err(ConfigError::invalid("auth.jwks_refresh_secs", "must be at least 1"));
        }
        Ok(())
    }

    /// How often an unknown `kid` may refetch its issuer's JWKS at most.
    pub fn jwks_min_refresh(&self) -> Duration {
        Duration::from_secs(self.jwks_min_refresh_secs)
    }

    /// How often every issuer's JWKS is refetched in the background.
    pub fn jwks_refresh(&self) -> Duration {
        Duration::from_secs(self.jwks_refresh_secs)
    }

    /// How long a client's scopes are cached.
    pub fn client_cache(&self) -> Duration {
        Duration::from_secs(self.client_cache_secs)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use super::super::testing::load;
    use super::super::{Settings, config_dir};
    use super::*;

    /// Loads `production.toml` = `auth_toml` on top of the real default.toml.
    fn load_production_with(auth_toml: &str) -> Result<Settings, ConfigError> {
        let dir = std::env::temp_dir().join(format!("linebacker-settings-{}", unique_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(config_dir().unwrap().join("default.toml"), dir.join("default.toml")).unwrap();
        std::fs::write(dir.join("production.toml"), auth_toml).unwrap();
        let env = HashMap::from([("APP_ENV".to_owned(), "production".to_owned())]);
        let loaded = Settings::load_from(&dir, &env);
        std::fs::remove_dir_all(&dir).ok();
        loaded
    }

    fn unique_suffix() -> String {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
    }

    #[test]
    fn auth_with_an_issuer_and_an_audience_starts_with_its_defaults() {
        let settings = load_production_with(
            "[auth]\nenabled = true\naudience = \"linebacker\"\n\
             issuers = [{ issuer = \"https://id.example\", jwks_url = \"https://id.example/jwks\" }]\n",
        )
        .unwrap();
        assert!(settings.auth.enabled);
        assert_eq!(settings.auth.issuers[0].jwks_url, "https://id.example/jwks");
        assert_eq!(settings.auth.leeway_secs, 60);
        assert_eq!(settings.zpages.bind, "127.0.0.1");
    }

    #[test]
    fn auth_without_an_audience_stops_the_process_naming_auth_audience() {
        let error = load_production_with(
            "[auth]\nenabled = true\n\
             issuers = [{ issuer = \"https://id.example\", jwks_url = \"https://id.example/jwks\" }]\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("`auth.audience`"), "{error}");
    }

    #[test]
    fn an_http_jwks_url_stops_a_production_process_naming_the_key() {
        let error = load_production_with(
            "[auth]\nenabled = true\naudience = \"linebacker\"\n\
             issuers = [{ issuer = \"https://id.example\", jwks_url = \"http://id.example/jwks\" }]\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("`auth.issuers[].jwks_url`"), "{error}");
        assert!(error.to_string().contains("https://"), "{error}");
    }

    #[test]
    fn production_with_auth_off_must_listen_on_loopback_only() {
        let error = load_production_with("[auth]\nenabled = false\n[http]\nhost = \"0.0.0.0\"\n").unwrap_err().to_string();
        assert!(error.contains("`auth.enabled`") && error.contains("`http.host`"), "{error}");
        for host in ["127.0.0.1", "::1", "localhost"] {
            let settings = load_production_with(&format!("[auth]\nenabled = false\n[http]\nhost = \"{host}\"\n"));
            assert!(settings.is_ok(), "{host}: {:?}", settings.err());
        }
        assert!(load_production_with("[auth]\nenabled = false\n[http]\nhost = \"::\"\n").is_err());
    }

    #[test]
    fn auth_is_on_by_default_in_production() {
        let error = load(&[("APP_ENV", "production")]).unwrap_err();
        assert!(error.to_string().contains("auth.issuers"), "{error}");
    }

    #[test]
    fn the_key_and_scope_lifetimes_are_their_seconds() {
        let settings = load(&[]).unwrap().auth;
        assert_eq!(settings.jwks_min_refresh(), Duration::from_secs(30));
        assert_eq!(settings.jwks_refresh(), Duration::from_secs(300));
        assert_eq!(settings.client_cache(), Duration::from_secs(60));
    }
}
