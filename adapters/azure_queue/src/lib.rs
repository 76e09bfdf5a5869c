//! Azure Storage Queues, the BZI's side of linebacker (SPEC §5), over the
//! Queue service's REST API with Shared Key, SAS or Entra ID authorization
//! (`credentials`), over HTTP or verified HTTPS. Works against
//! Azure and against Azurite.
//!
//! [`QueueClient`] speaks to one queue; [`AzureBackupInterface`] and
//! [`AzureStatusInbox`] implement the domain ports on top of it.

mod auth;
mod client;
mod credentials;
mod encoding;
mod errors;
mod interface;
mod poison;
pub mod testing;
mod xml;

pub use client::{MAX_MESSAGES_PER_GET, PeekedMessage, QueueClient, QueueMessage, QueueServiceConfig};
pub use credentials::{EntraIdCredentials, QueueAuth};
pub use encoding::MessageEncoding;
pub use poison::{AzurePoisonLetters, SCAN_VISIBILITY};
pub use interface::{AzureBackupInterface, AzureStatusInbox, POISON_QUEUE, REQUESTS_QUEUE, STATUSES_QUEUE};
