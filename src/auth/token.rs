//! Officers' tokens: a JWT signed by a key the caller's organisation registered.
//! The platform holds no signing secret; it only verifies, against the injected
//! clock, and binds the token to the calling certificate (`cnf.x5t#S256`, RFC 8705).

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::store::{Store, registry};

pub const AUDIENCE: &str = "fenghuo";
/// Longest lifetime a token may claim (exp − iat).
pub const MAX_LIFETIME_SECS: i64 = 15 * 60;
/// Tolerated clock difference between the signer and the server.
const LEEWAY_SECS: i64 = 60;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: serde_json::Value,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub cnf: Confirmation,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Confirmation {
    #[serde(rename = "x5t#S256")]
    pub x5t_s256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("officer token is malformed: {0}")]
    Malformed(String),
    #[error("officer token has no kid header")]
    NoKeyId,
    #[error("officer token algorithm {0:?} is not accepted (EdDSA or ES256)")]
    Algorithm(String),
    #[error("officer token key {kid:?} is not registered for organisation {org}")]
    UnknownKey { org: String, kid: String },
    #[error("officer token key {kid:?} of organisation {org} was revoked")]
    RevokedKey { org: String, kid: String },
    #[error("officer token key {kid:?} is registered for {registered}, but the token says {used}")]
    AlgorithmMismatch {
        kid: String,
        registered: String,
        used: String,
    },
    #[error("officer token signature does not verify: {0}")]
    Signature(String),
    #[error("officer token issuer {iss:?} is not the calling certificate's organisation {org}")]
    Issuer { iss: String, org: String },
    #[error("officer token audience must include \"fenghuo\"")]
    Audience,
    #[error("officer token expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("officer token is not valid before {0}")]
    NotYetValid(DateTime<Utc>),
    #[error("officer token lifetime is {0} s; at most 900 s (15 minutes) is accepted")]
    Lifetime(i64),
    #[error(
        "officer token is bound to another certificate (cnf.x5t#S256 does not match the caller's)"
    )]
    Binding,
    #[error("officer {officer:?} is not a registered, enabled officer of {org}")]
    Officer { org: String, officer: String },
    #[error("looking up the officer token's key")]
    Store(#[from] sqlx::Error),
}

impl TokenError {
    /// Storage failures are the server's fault, not the token's.
    pub fn is_internal(&self) -> bool {
        matches!(self, TokenError::Store(_))
    }
}

/// Verifies `token` for a call from `org` with certificate thumbprint `thumbprint`.
/// Returns the officer's name.
pub async fn verify(
    store: &Store,
    now: DateTime<Utc>,
    org: &str,
    thumbprint: &str,
    token: &str,
) -> Result<String, TokenError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
    let kid = header.kid.ok_or(TokenError::NoKeyId)?;
    let alg_name = match header.alg {
        Algorithm::EdDSA => "EdDSA",
        Algorithm::ES256 => "ES256",
        other => return Err(TokenError::Algorithm(format!("{other:?}"))),
    };
    let key = registry::get_officer_key(store, org, &kid)
        .await?
        .ok_or_else(|| TokenError::UnknownKey {
            org: org.into(),
            kid: kid.clone(),
        })?;
    if key.revoked_at.is_some() {
        return Err(TokenError::RevokedKey {
            org: org.into(),
            kid,
        });
    }
    if key.algorithm != alg_name {
        return Err(TokenError::AlgorithmMismatch {
            kid,
            registered: key.algorithm,
            used: alg_name.into(),
        });
    }
    let decoding = match header.alg {
        Algorithm::EdDSA => DecodingKey::from_ed_pem(key.public_key_pem.as_bytes()),
        _ => DecodingKey::from_ec_pem(key.public_key_pem.as_bytes()),
    }
    .map_err(|e| TokenError::Signature(format!("registered key unreadable: {e}")))?;
    // Time and audience are checked below against the injected clock, with our own messages.
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(token, &decoding, &validation)
        .map_err(|e| TokenError::Signature(e.to_string()))?
        .claims;
    if claims.iss != org {
        return Err(TokenError::Issuer {
            iss: claims.iss,
            org: org.into(),
        });
    }
    let audience_ok = match &claims.aud {
        serde_json::Value::String(a) => a == AUDIENCE,
        serde_json::Value::Array(list) => list.iter().any(|a| a.as_str() == Some(AUDIENCE)),
        _ => false,
    };
    if !audience_ok {
        return Err(TokenError::Audience);
    }
    let t = |s: i64| DateTime::from_timestamp(s, 0).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let lifetime = claims.exp - claims.iat;
    if !(0..=MAX_LIFETIME_SECS).contains(&lifetime) {
        return Err(TokenError::Lifetime(lifetime));
    }
    let now_s = now.timestamp();
    if now_s >= claims.exp {
        return Err(TokenError::Expired(t(claims.exp)));
    }
    let not_before = claims.nbf.unwrap_or(claims.iat).max(claims.iat);
    if now_s + LEEWAY_SECS < not_before {
        return Err(TokenError::NotYetValid(t(not_before)));
    }
    if claims.cnf.x5t_s256 != thumbprint {
        return Err(TokenError::Binding);
    }
    let officer = registry::get_officer(store, org, &claims.sub).await?;
    match officer {
        Some(o) if o.enabled != 0 => Ok(claims.sub),
        _ => Err(TokenError::Officer {
            org: org.into(),
            officer: claims.sub,
        }),
    }
}

/// Signs a token with an Ed25519 PKCS#8 key: what an organisation's identity
/// provider does. Used by `fenghuo token issue` and the tests.
pub fn sign_ed25519(
    private_key_pem: &str,
    kid: &str,
    org: &str,
    officer: &str,
    thumbprint: &str,
    issued_at: DateTime<Utc>,
    lifetime_secs: i64,
) -> anyhow::Result<String> {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    let claims = Claims {
        iss: org.to_owned(),
        sub: officer.to_owned(),
        aud: serde_json::Value::String(AUDIENCE.into()),
        iat: issued_at.timestamp(),
        exp: issued_at.timestamp() + lifetime_secs,
        nbf: None,
        cnf: Confirmation {
            x5t_s256: thumbprint.to_owned(),
        },
    };
    let key = EncodingKey::from_ed_pem(private_key_pem.as_bytes())?;
    Ok(jsonwebtoken::encode(&header, &claims, &key)?)
}
