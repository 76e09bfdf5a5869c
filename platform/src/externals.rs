//! The external systems the use cases call: the backup job service and the
//! BZI's queues. Each is built from the settings, unless a component of the
//! process provided it in-process first (dev mode's simulated systems, named
//! before the components that use them).

use std::sync::{Arc, OnceLock};

use anyhow::Context;
use linebacker_azure_queue::{AzureBackupInterface, AzureStatusInbox};
use linebacker_backup_job_http::HttpBackupJobService;
use linebacker_domain::dead_letter::DeadLetters;
use linebacker_domain::ports::{BackupInterface, BackupJobService, StatusInbox};
use linebacker_runtime::Settings;


/// A BZI played in the process: its request queue, its status queue and the
/// status queue's poison queue.
#[derive(Clone)]
pub struct InProcessInterface {
    pub requests: Arc<dyn BackupInterface>,
    pub statuses: Arc<dyn StatusInbox>,
    pub poison: Arc<dyn DeadLetters>,
}

/// What components provided in-process, in place of the configured systems.
#[derive(Default)]
pub struct Externals {
    jobs: OnceLock<Arc<dyn BackupJobService>>,
    interface: OnceLock<InProcessInterface>,
}

impl Externals {
    /// From now on, the process's job service is `jobs`.
    pub fn provide_jobs(&self, jobs: Arc<dyn BackupJobService>) {
        if self.jobs.set(jobs).is_err() {
            tracing::warn!("a job service was already provided; keeping the first");
        }
    }

    /// From now on, the process's BZI is `interface`.
    pub fn provide_interface(&self, interface: InProcessInterface) {
        if self.interface.set(interface).is_err() {
            tracing::warn!("a BZI was already provided; keeping the first");
        }
    }

    /// The BZI played in the process, if any.
    pub fn in_process_interface(&self) -> Option<&InProcessInterface> {
        self.interface.get()
    }
}

/// The backup job service: `provided`, or over HTTP at
/// `backup_job_service.url`.
pub(crate) fn job_service(externals: &Externals, settings: &Settings) -> anyhow::Result<Arc<dyn BackupJobService>> {
    if let Some(jobs) = externals.jobs.get() {
        return Ok(jobs.clone());
    }
    let service = &settings.backup_job_service;
    let jobs = HttpBackupJobService::new(&service.url, service.timeout(), service.ca_file.as_deref()).context("backup_job_service")?;
    Ok(Arc::new(jobs))
}

/// The BZI's request queue: played in the process, or on Azure
/// (`azure_queue.requests_queue`, created when missing).
pub(crate) async fn interface_requests(externals: &Externals, settings: &Settings) -> anyhow::Result<Arc<dyn BackupInterface>> {
    if let Some(interface) = externals.interface.get() {
        return Ok(interface.requests.clone());
    }
    let config = settings.azure_queue.service_config();
    let interface = AzureBackupInterface::new(&config, &settings.azure_queue.requests_queue)?;
    if let Err(error) = interface.queue().create_if_missing().await {
        // Sends fail (and are retried) until the queue service answers.
        tracing::warn!(error = %error, "cannot create the interface's request queue yet");
    }
    Ok(Arc::new(interface))
}

/// The BZI's status queue and its poison queue: played in the process, or
/// on Azure (created when missing).
pub(crate) async fn status_inbox(externals: &Externals, settings: &Settings) -> anyhow::Result<Arc<dyn StatusInbox>> {
    if let Some(interface) = externals.interface.get() {
        return Ok(interface.statuses.clone());
    }
    let azure = &settings.azure_queue;
    let config = settings.azure_queue.service_config();
    let inbox = AzureStatusInbox::new(&config, &azure.statuses_queue, &azure.poison_queue)?;
    if let Err(error) = inbox.create_queues_if_missing().await {
        tracing::warn!(error = %error, "cannot create the status queues yet");
    }
    Ok(Arc::new(inbox))
}
