//! The peers an installation is configured with: the real programs its settings name, and
//! simdesk's own recorders for those they do not.

use crate::adapters::email::SmtpMailer;
use crate::adapters::hlr::HlrNetwork;
use crate::adapters::messages::{MessageCodes, RecordingMessages};
use crate::adapters::network::{Network, RecordingNetwork};
use crate::adapters::payouts::RecordingPayouts;
use crate::adapters::sms::KannelSms;
use crate::config::Settings;
use crate::services::outbox::Peers;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

/// Builds the outbox's peers and the one-time-code sender from settings.
pub fn from_settings(
    settings: &Settings,
    store: Arc<dyn Store>,
) -> anyhow::Result<(Peers, Arc<MessageCodes>)> {
    let network: Arc<dyn Network> = match &settings.hlr {
        Some(hlr) => Arc::new(HlrNetwork::new(
            hlr.ctrl,
            Duration::from_millis(hlr.timeout_ms.unwrap_or(3000)),
        )),
        None => Arc::new(RecordingNetwork::new(store.clone())),
    };
    let recorder = Arc::new(RecordingMessages::default());
    let sms: Arc<dyn crate::adapters::sms::SmsGateway> = match &settings.sms {
        Some(s) => Arc::new(KannelSms::new(
            &s.sendsms_url,
            &s.username,
            &s.password,
            &s.from,
            Duration::from_millis(s.timeout_ms.unwrap_or(5000)),
        )),
        None => recorder.clone(),
    };
    let mail: Arc<dyn crate::adapters::email::Mailer> = match &settings.smtp {
        Some(smtp) => Arc::new(
            SmtpMailer::new(&crate::adapters::email::SmtpSettings {
                // Bounded well inside the outbox's lease (lettre's own default is a minute).
                timeout_secs: Some(smtp.timeout_secs.unwrap_or(10)),
                ..smtp.clone()
            })
            .map_err(|e| anyhow::anyhow!("the [smtp] settings are not usable: {e}"))?,
        ),
        None => recorder,
    };
    let smdp: Option<Arc<dyn crate::adapters::smdp::Es2Plus>> = match &settings.smdp {
        Some(s) => Some(Arc::new(
            crate::adapters::smdp::Es2PlusClient::new(s)
                .map_err(|e| e.to_string())
                .and_then(|client| {
                    s.points
                        .validate()
                        .map(|()| client)
                        .map_err(|e| format!("points: {e}"))
                })
                .map_err(|e| anyhow::anyhow!("the [smdp] settings are not usable: {e}"))?,
        )),
        None => None,
    };
    let codes = Arc::new(MessageCodes::new(sms.clone(), mail.clone()));
    Ok((
        Peers {
            network,
            payouts: Arc::new(RecordingPayouts::new(store)),
            sms,
            mail,
            smdp,
            public_url: settings.public_url(),
        },
        codes,
    ))
}
