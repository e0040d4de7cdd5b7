//! `fenghuo notice …`: fetch a signed notice as it travels, and verify one
//! offline (Art. 8: electronic notices "whose source can be verified"). On any
//! error nothing reaches stdout; the reason goes to stderr with a non-zero exit.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use fenghuo_client::pb;
use prost::Message;

use fenghuo::pki::ClientCertificate;
use fenghuo::pki::signing::{self, Signature};

use super::ConnectArgs;

#[derive(Subcommand)]
pub enum NoticeCommand {
    /// Fetch a notice (DisposalService.GetNotice) and write its SignedNotice, protobuf-encoded,
    /// to --out; the signed body is kept byte for byte as received.
    Get {
        notice_id: String,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Verify a SignedNotice file offline against the platform CA: the signer certificate's
    /// chain, key id, organisation and validity at issue time, and the Ed25519 signature over
    /// the body bytes exactly as stored in the file.
    Verify {
        file: PathBuf,
        /// The platform CA certificate (PEM), e.g. <data-dir>/pki/ca.crt
        #[arg(long)]
        ca: PathBuf,
    },
}

impl NoticeCommand {
    pub async fn run(self) -> anyhow::Result<()> {
        match self {
            NoticeCommand::Get {
                notice_id,
                out,
                connect,
            } => get(&notice_id, &out, &connect).await,
            NoticeCommand::Verify { file, ca } => {
                for line in verify(&file, &ca)? {
                    println!("{line}");
                }
                Ok(())
            }
        }
    }
}

async fn get(notice_id: &str, out: &std::path::Path, connect: &ConnectArgs) -> anyhow::Result<()> {
    let notice = connect
        .client()
        .await?
        .disposal()
        .get_notice(pb::GetNoticeRequest {
            notice_id: notice_id.into(),
        })
        .await?
        .into_inner()
        .notice
        .context("the server answered without the notice")?;
    let signed = notice
        .signed
        .context("the server answered without the signed notice")?;
    // `body` is opaque bytes to prost: encoding the envelope carries them unchanged.
    let bytes = signed.encode_to_vec();
    std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "notice {} written to {} ({} bytes; signed body {} bytes, key {})",
        notice.notice_id,
        out.display(),
        bytes.len(),
        signed.body.len(),
        signed.key_id
    );
    Ok(())
}

fn time(t: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
}

/// The lines saying what was checked; an error when any check fails.
fn verify(file: &std::path::Path, ca: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let ca_pem =
        std::fs::read_to_string(ca).with_context(|| format!("reading {}", ca.display()))?;
    let signed = pb::SignedNotice::decode(bytes.as_slice())
        .with_context(|| format!("{} is not a SignedNotice", file.display()))?;
    verify_signed(&signed, &ca_pem, &ca.display().to_string())
}

/// [`verify`] on a notice in hand; `ca_name` names the CA in the lines.
pub(super) fn verify_signed(
    signed: &pb::SignedNotice,
    ca_pem: &str,
    ca_name: &str,
) -> anyhow::Result<Vec<String>> {
    // Decoded only to learn whom the signer must be and when; the signature is checked
    // over `signed.body`, the bytes as received.
    let body = pb::NoticeBody::decode(signed.body.as_slice())
        .context("the signed body is not a NoticeBody: it was altered or is not a notice")?;
    let issued_at = time(body.issued_at.as_ref()).context("the notice body has no issue time")?;
    let signature = Signature {
        signature: signed.signature.clone(),
        key_id: signed.key_id.clone(),
        chain_der: signed.signer_chain_der.clone(),
    };
    signing::verify(
        &signed.body,
        &signature,
        ca_pem,
        &body.issuer_organisation_id,
        issued_at,
    )
    .map_err(|e| anyhow::anyhow!("notice NOT verified: {e}"))?;
    let signer = ClientCertificate::from_der(&signed.signer_chain_der[0])?;
    let kind = pb::NoticeKind::try_from(body.kind)
        .map(|k| k.as_str_name())
        .unwrap_or("?");
    let rfc = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_else(|| "none".into());
    let addressee = if body.addressee_organisation_id.is_empty() {
        format!("{} (off the platform)", body.addressee_name)
    } else {
        body.addressee_organisation_id.clone()
    };
    Ok(vec![
        format!("notice {} kind {kind}", body.notice_id),
        format!(
            "issuer {} (officer {}), issued at {}",
            body.issuer_organisation_id,
            body.issuing_officer_name,
            issued_at.to_rfc3339()
        ),
        format!("addressee {addressee}"),
        format!("deadline {}", rfc(time(body.deadline.as_ref()))),
        format!(
            "key id {} (SHA-256 of the signer certificate)",
            signed.key_id
        ),
        format!(
            "signer certificate {:?} names {}, issued by the CA in {}, valid {} to {}: covers the issue time",
            signer.subject,
            signer.organisation.as_str(),
            ca_name,
            signer.not_before.to_rfc3339(),
            signer.not_after.to_rfc3339()
        ),
        format!(
            "signature Ed25519 over the {} body bytes as received: valid",
            signed.body.len()
        ),
        "verified".into(),
    ])
}
