//! SNMPv3 requests for another context engine (`snmp_engineid`).
//!
//! async-snmp's client always puts the authoritative engine ID into the scoped PDU's
//! contextEngineID and refuses responses naming another one. A proxy agent (RFC 3413 §7) selects
//! the proxied engine by that field, so requests with `snmp_engineid` are built here from the
//! library's public v3 pieces: [`ScopedPdu`], [`UsmSecurityParams`], [`V3Message`], the localized
//! keys ([`MasterKeys`]), [`PrivKey`] for privacy and `authenticate_message`/`verify_message` for the
//! HMAC. The security side stays the agent's: its engine ID (discovered by the library and shared
//! through the process-wide `EngineCache`), its boots/time and keys localized to it. Only the
//! contextEngineID differs.
//!
//! Timeliness: the boots/time start from the cache's last authenticated value (or 0/0) and then
//! advance with the local clock; an authenticated notInTimeWindow Report supplies the agent's
//! current values and the request is sent once more with them, within the same attempt.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_snmp::ber::Decoder;
use async_snmp::message::{MsgFlags, MsgGlobalData, ScopedPdu, V3Message, V3MessageData};
use async_snmp::v3::PrivKey;
use async_snmp::v3::auth::{authenticate_message, verify_message};
use async_snmp::v3::{ReportStatus, SaltCounter, UsmSecurityParams, classify_report};
use async_snmp::{
    AuthProtocol, Candidate, DecodeConfig, DesSaltState, EngineCache, GetBulkPdu, LocalizedKey,
    MasterKeys, MessageSize, Pdu, PduType, RequestPdu, RequestRegistration, SecurityLevel,
    Transport as _, VarBind,
};
use bytes::Bytes;

use super::{Counting, from_library, map_error, report_counter};
use crate::client::{ClientError, Response};

/// One request's operation.
pub(super) enum Operation<'a> {
    Get(&'a [async_snmp::Oid]),
    GetNext(&'a [async_snmp::Oid]),
    GetBulk {
        oids: &'a [async_snmp::Oid],
        non_repeaters: u32,
        max_repetitions: u32,
    },
}

/// The user's credentials, before localization to an engine.
#[derive(Clone)]
pub(super) struct Credentials {
    pub user: Bytes,
    pub level: SecurityLevel,
    /// Master keys (auth, and priv when `level` is authPriv); `None` for noAuthNoPriv.
    pub keys: Option<MasterKeys>,
    /// DES/3DES sender state (required for those privacy protocols).
    pub des: Option<DesSaltState>,
}

/// Keys localized to one authoritative engine.
struct Localized {
    engine_id: Bytes,
    auth: Option<LocalizedKey>,
    privacy: Option<PrivKey>,
}

/// The agent's boots/time as last learned, and when.
#[derive(Clone, Copy)]
struct Clock {
    boots: u32,
    time: u32,
    at: Instant,
}

/// Everything needed to encode one request (pure; see [`encode_request`]).
pub(super) struct Outgoing<'a> {
    pub msg_id: i32,
    pub request_id: i32,
    pub engine_id: &'a [u8],
    pub boots: u32,
    pub time: u32,
    pub user: &'a [u8],
    pub level: SecurityLevel,
    pub auth: Option<&'a LocalizedKey>,
    pub privacy: Option<&'a PrivKey>,
    pub des: Option<&'a DesSaltState>,
    pub salt: &'a SaltCounter,
    pub context_engine_id: &'a [u8],
    pub context_name: &'a [u8],
    pub max_size: MessageSize,
}

fn other(what: &str, error: impl std::fmt::Display) -> ClientError {
    ClientError::Other(format!("snmp_engineid request: {what}: {error}"))
}

/// Encodes, encrypts and signs one request.
pub(super) fn encode_request(
    out: &Outgoing<'_>,
    operation: &Operation<'_>,
) -> Result<Vec<u8>, ClientError> {
    let version = async_snmp::Version::V3;
    let pdu: Pdu = match operation {
        Operation::Get(oids) => {
            RequestPdu::get(version, out.request_id, oids).map(RequestPdu::into_raw)
        }
        Operation::GetNext(oids) => {
            RequestPdu::get_next(version, out.request_id, oids).map(RequestPdu::into_raw)
        }
        Operation::GetBulk {
            oids,
            non_repeaters,
            max_repetitions,
        } => GetBulkPdu::new(
            version,
            out.request_id,
            *non_repeaters,
            *max_repetitions,
            oids.iter().cloned().map(VarBind::null).collect(),
        )
        .map(GetBulkPdu::into_raw),
    }
    .map_err(|e| other("PDU", e))?;
    let scoped = ScopedPdu::new(
        Bytes::copy_from_slice(out.context_engine_id),
        Bytes::copy_from_slice(out.context_name),
        pdu,
    );
    let global = MsgGlobalData::new(out.msg_id, out.max_size, MsgFlags::new(out.level, true))
        .map_err(|e| other("header", e))?;
    let mut usm = UsmSecurityParams::new(
        Bytes::copy_from_slice(out.engine_id),
        out.boots,
        out.time,
        Bytes::copy_from_slice(out.user),
    )
    .map_err(|e| other("security parameters", e))?;
    if out.level.requires_auth() {
        let key = out.auth.ok_or_else(|| other("keys", "no auth key"))?;
        usm = usm
            .with_auth_placeholder(key.mac_len())
            .map_err(|e| other("security parameters", e))?;
    }
    let message = if out.level.requires_priv() {
        let key = out.privacy.ok_or_else(|| other("keys", "no privacy key"))?;
        let plaintext = scoped
            .encode_to_bytes()
            .map_err(|e| other("scoped PDU", e))?;
        let (ciphertext, salt) = match out.des {
            Some(state) => key.encrypt_des_family(&plaintext, state),
            None => key.encrypt_aes(&plaintext, out.boots, out.time, out.salt),
        }
        .map_err(|e| other("encryption", e))?;
        usm = usm
            .with_priv_params(salt)
            .map_err(|e| other("security parameters", e))?;
        let params = usm.encode().map_err(|e| other("security parameters", e))?;
        V3Message::new_with_opaque_encrypted_scoped_pdu(global, params, ciphertext)
    } else {
        let params = usm.encode().map_err(|e| other("security parameters", e))?;
        V3Message::new(global, params, scoped)
    }
    .map_err(|e| other("message", e))?;
    let mut data = message.encode().map_err(|e| other("message", e))?.to_vec();
    if let Some(key) = out.auth.filter(|_| out.level.requires_auth()) {
        let (offset, len) = UsmSecurityParams::find_auth_params_offset(&data)
            .ok_or_else(|| other("message", "no authentication parameters"))?;
        authenticate_message(key, &mut data, offset, len).map_err(|e| other("HMAC", e))?;
    }
    Ok(data)
}

/// What a received datagram means for the pending request.
enum Verdict {
    Response(Pdu),
    /// Authenticated notInTimeWindow: the agent's boots and time.
    Resync(u32, u32),
    Failed(ClientError),
}

/// Sessions' `snmp_engineid` requests to one target.
pub(super) struct ContextEngine {
    credentials: Credentials,
    context_engine_id: Bytes,
    context_name: Bytes,
    engines: Arc<EngineCache>,
    peer: SocketAddr,
    salt: SaltCounter,
    localized: Mutex<Option<Arc<Localized>>>,
    clock: Mutex<Option<(Bytes, Clock)>>,
}

impl ContextEngine {
    pub(super) fn new(
        credentials: Credentials,
        context_engine_id: Vec<u8>,
        context_name: Vec<u8>,
        engines: Arc<EngineCache>,
        peer: SocketAddr,
    ) -> Result<ContextEngine, ClientError> {
        async_snmp::v3::validate_engine_id(&context_engine_id).map_err(|e| {
            ClientError::Other(format!("snmp_engineid is not a valid engine ID: {e}"))
        })?;
        Ok(ContextEngine {
            credentials,
            context_engine_id: context_engine_id.into(),
            context_name: context_name.into(),
            engines,
            peer,
            salt: SaltCounter::new().map_err(|e| other("salt", e))?,
            localized: Mutex::new(None),
            clock: Mutex::new(None),
        })
    }

    fn keys(&self, engine_id: &Bytes) -> Result<Arc<Localized>, ClientError> {
        let mut slot = super::lock(&self.localized);
        if let Some(keys) = slot.as_ref().filter(|k| k.engine_id == *engine_id) {
            return Ok(keys.clone());
        }
        let (auth, privacy) = match &self.credentials.keys {
            Some(master) => {
                let (auth, privacy) = master
                    .localize(engine_id)
                    .map_err(|e| other("key localization", e))?;
                (Some(auth), privacy)
            }
            None => (None, None),
        };
        let keys = Arc::new(Localized {
            engine_id: engine_id.clone(),
            auth,
            privacy,
        });
        *slot = Some(keys.clone());
        Ok(keys)
    }

    /// The agent's estimated boots/time.
    fn boots_time(&self, engine_id: &Bytes, cached: Option<(u32, u32)>) -> (u32, u32) {
        if let Some((id, clock)) = super::lock(&self.clock).as_ref()
            && id == engine_id
        {
            let elapsed = u32::try_from(clock.at.elapsed().as_secs()).unwrap_or(u32::MAX);
            return (
                clock.boots,
                clock.time.saturating_add(elapsed).min(i32::MAX as u32),
            );
        }
        cached.unwrap_or((0, 0))
    }

    fn learn(&self, engine_id: &Bytes, boots: u32, time: u32) {
        let mut slot = super::lock(&self.clock);
        let newer = match slot.as_ref() {
            Some((id, clock)) if id == engine_id => {
                let (b, t) = (clock.boots, clock.time);
                boots > b || (boots == b && time >= t)
            }
            _ => true,
        };
        if newer {
            *slot = Some((
                engine_id.clone(),
                Clock {
                    boots,
                    time,
                    at: Instant::now(),
                },
            ));
        }
    }

    /// One attempt of `operation`, bounded by `timeout`.
    pub(super) async fn request(
        &self,
        client: &async_snmp::Client<Counting>,
        transport: &Counting,
        operation: Operation<'_>,
        timeout: Duration,
    ) -> Result<Response, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let engine = match self.engines.get(&self.peer) {
            Some(engine) => engine,
            None => {
                client
                    .rediscover_engine()
                    .await
                    .map_err(|e| map_error(&e))?;
                self.engines
                    .get(&self.peer)
                    .ok_or_else(|| other("discovery", "no engine was discovered"))?
            }
        };
        let engine_id = engine.engine_id().clone();
        let keys = self.keys(&engine_id)?;
        let cached = engine
            .authenticated_time()
            .map(|t| (t.boots(), t.latest_received_time()));
        let mut resynced = false;
        loop {
            let (boots, time) = self.boots_time(&engine_id, cached);
            let msg_id = transport.alloc_request_id();
            let request_id = transport.alloc_request_id();
            let data = encode_request(
                &Outgoing {
                    msg_id,
                    request_id,
                    engine_id: &engine_id,
                    boots,
                    time,
                    user: &self.credentials.user,
                    level: self.credentials.level,
                    auth: keys.auth.as_ref(),
                    privacy: keys.privacy.as_ref(),
                    des: self.credentials.des.as_ref(),
                    salt: &self.salt,
                    context_engine_id: &self.context_engine_id,
                    context_name: &self.context_name,
                    max_size: transport.receive_limits().advertised(),
                },
                &operation,
            )?;
            let registration = RequestRegistration::v3(msg_id, deadline);
            let verdict = transport
                .request_with(&data, registration, |datagram, _source| {
                    Ok(self.judge(datagram, msg_id, request_id, &keys))
                })
                .await
                .map_err(|e| map_error(&e))?;
            match verdict {
                Verdict::Response(pdu) => {
                    return Ok(Response {
                        error_status: pdu.error_status().max(0) as u32,
                        error_index: pdu.error_index().max(0) as u32,
                        varbinds: from_library(pdu.into_varbinds()),
                    });
                }
                Verdict::Resync(boots, time) if !resynced => {
                    tracing::debug!(peer = %self.peer, boots, time, "re-synchronised engine time");
                    resynced = true;
                    self.learn(&engine_id, boots, time);
                }
                Verdict::Resync(..) => {
                    return Err(ClientError::Auth(
                        "usmStatsNotInTimeWindows: the agent's engine time did not settle"
                            .to_owned(),
                    ));
                }
                Verdict::Failed(error) => return Err(error),
            }
        }
    }

    /// Verifies and decodes one datagram received for `msg_id`. Datagrams that cannot belong to
    /// this request (or cannot be trusted) are rejected: the request keeps waiting for its own.
    fn judge(
        &self,
        datagram: Bytes,
        msg_id: i32,
        request_id: i32,
        keys: &Localized,
    ) -> Candidate<Verdict> {
        match self.verify(datagram, msg_id, request_id, keys) {
            Some(verdict) => Candidate::Accept(verdict),
            None => Candidate::Reject,
        }
    }

    fn verify(
        &self,
        datagram: Bytes,
        msg_id: i32,
        request_id: i32,
        keys: &Localized,
    ) -> Option<Verdict> {
        let config = DecodeConfig::DEFAULT;
        let message = V3Message::decode(datagram.clone(), config).ok()?.value;
        if message.msg_id() != msg_id {
            return None;
        }
        let usm = UsmSecurityParams::decode(message.security_params().clone(), config)
            .ok()?
            .value;
        let level = message.security_level();
        let authenticated = level.requires_auth();
        if authenticated {
            // The keys are the user's at this engine: anything else cannot be verified with them.
            if *usm.engine_id() != keys.engine_id || *usm.username() != self.credentials.user {
                return None;
            }
            let key = keys.auth.as_ref()?;
            let (offset, len) = UsmSecurityParams::find_auth_params_offset(&datagram)?;
            if !verify_message(key, &datagram, offset, len).ok()? {
                return None;
            }
        }
        let scoped = match message.data() {
            V3MessageData::Plaintext(scoped) => scoped.clone(),
            V3MessageData::Encrypted(ciphertext) => {
                if !authenticated || !level.requires_priv() {
                    return None;
                }
                let plaintext = keys
                    .privacy
                    .as_ref()?
                    .decrypt(
                        ciphertext,
                        usm.engine_boots(),
                        usm.engine_time(),
                        usm.priv_params(),
                    )
                    .ok()?;
                // DES may leave up to seven octets of padding after the scoped PDU.
                ScopedPdu::decode(&mut Decoder::new(plaintext)).ok()?
            }
        };
        if authenticated {
            self.learn(&keys.engine_id, usm.engine_boots(), usm.engine_time());
        }
        match scoped.pdu.pdu_type() {
            PduType::Report => self.report(&scoped.pdu, authenticated, &usm),
            PduType::Response => {
                if self.credentials.level.requires_auth() && !authenticated {
                    return None;
                }
                let (id, body, varbinds) = scoped.pdu.into_raw_parts();
                if id != request_id {
                    return None;
                }
                if scoped.context_engine_id != self.context_engine_id
                    || scoped.context_name != self.context_name
                {
                    return Some(Verdict::Failed(ClientError::Decode(format!(
                        "response names context engine {} instead of the requested one",
                        hex(&scoped.context_engine_id)
                    ))));
                }
                Some(Verdict::Response(Pdu::from_raw_parts(id, body, varbinds)))
            }
            _ => None,
        }
    }

    fn report(&self, pdu: &Pdu, authenticated: bool, usm: &UsmSecurityParams) -> Option<Verdict> {
        let status = classify_report(pdu).ok()?;
        let counter = report_counter(&status);
        match status {
            ReportStatus::NotInTimeWindow { .. } if authenticated => {
                Some(Verdict::Resync(usm.engine_boots(), usm.engine_time()))
            }
            // An agent with a new engine ID: left to time out, so the retry re-discovers it (as
            // on the library's path).
            ReportStatus::UnknownEngineId { .. } => None,
            // The agent cannot sign these with keys it failed to verify; the library's path
            // accepts them too (allow_unauthenticated_v3_time_correction).
            ReportStatus::WrongDigest { .. }
            | ReportStatus::UnknownUserName { .. }
            | ReportStatus::DecryptionError { .. }
            | ReportStatus::UnsupportedSecurityLevel { .. } => Some(Verdict::Failed(
                ClientError::Auth(format!("{counter} ({status})")),
            )),
            _ if authenticated || !self.credentials.level.requires_auth() => {
                // e.g. snmpUnknownPDUHandlers, snmpUnavailableContexts: nothing answers for the
                // requested context engine.
                Some(Verdict::Failed(ClientError::Other(format!(
                    "the agent answered with a Report: {counter} ({status}), context engine {}",
                    hex(&self.context_engine_id)
                ))))
            }
            _ => None,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The master keys for `auth`'s credentials (`None` for noAuthNoPriv).
pub(super) fn master_keys(
    auth_protocol: AuthProtocol,
    password: &str,
    privacy: Option<(async_snmp::PrivProtocol, &str)>,
) -> Result<MasterKeys, ClientError> {
    let keys = MasterKeys::new(auth_protocol, password.as_bytes())
        .map_err(|e| ClientError::Auth(format!("v3 credentials refused: {e}")))?;
    match privacy {
        Some((protocol, password)) => keys
            .with_privacy(protocol, password.as_bytes())
            .map_err(|e| ClientError::Auth(format!("v3 credentials refused: {e}"))),
        None => Ok(keys),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_snmp::PrivProtocol;

    fn decode_request(
        data: &[u8],
        privacy: Option<&PrivKey>,
        auth: Option<&LocalizedKey>,
    ) -> (UsmSecurityParams, ScopedPdu) {
        if let Some(key) = auth {
            let (offset, len) = UsmSecurityParams::find_auth_params_offset(data).unwrap();
            assert!(verify_message(key, data, offset, len).unwrap(), "signed");
        }
        let message = V3Message::decode(Bytes::copy_from_slice(data), DecodeConfig::DEFAULT)
            .unwrap()
            .value;
        let usm =
            UsmSecurityParams::decode(message.security_params().clone(), DecodeConfig::DEFAULT)
                .unwrap()
                .value;
        let scoped = match message.data() {
            V3MessageData::Plaintext(scoped) => scoped.clone(),
            V3MessageData::Encrypted(ciphertext) => {
                let plain = privacy
                    .unwrap()
                    .decrypt(
                        ciphertext,
                        usm.engine_boots(),
                        usm.engine_time(),
                        usm.priv_params(),
                    )
                    .unwrap();
                ScopedPdu::decode(&mut Decoder::new(plain)).unwrap()
            }
        };
        (usm, scoped)
    }

    #[test]
    fn requests_carry_the_requested_context_engine_id_under_the_agents_security_engine() {
        let agent = hex_bytes("80001f888001020304");
        let proxied = hex_bytes("800000090300aabbccddee");
        let master = master_keys(
            AuthProtocol::Sha1,
            "labauthpass",
            Some((PrivProtocol::Aes128, "labprivpass")),
        )
        .unwrap();
        let (auth, privacy) = master.localize(&agent).unwrap();
        let des_master = master_keys(
            AuthProtocol::Md5,
            "labauthpass",
            Some((PrivProtocol::Des, "labprivpass")),
        )
        .unwrap();
        let (des_auth, des_privacy) = des_master.localize(&agent).unwrap();
        let des_state =
            DesSaltState::restart(async_snmp::PersistedDesSaltState::new(7).unwrap(), |_| {
                Ok::<(), std::io::Error>(())
            })
            .unwrap();
        let salt = SaltCounter::new().unwrap();
        let oids = [async_snmp::Oid::from_slice(&[1, 3, 6, 1, 2, 1, 1, 5, 0])];
        let cases = [
            (SecurityLevel::NoAuthNoPriv, None, None, None),
            (SecurityLevel::AuthNoPriv, Some(&auth), None, None),
            (SecurityLevel::AuthPriv, Some(&auth), privacy.as_ref(), None),
            (
                SecurityLevel::AuthPriv,
                Some(&des_auth),
                des_privacy.as_ref(),
                Some(&des_state),
            ),
        ];
        for (level, auth, privacy, des) in cases {
            for operation in [
                Operation::Get(&oids),
                Operation::GetNext(&oids),
                Operation::GetBulk {
                    oids: &oids,
                    non_repeaters: 0,
                    max_repetitions: 25,
                },
            ] {
                let data = encode_request(
                    &Outgoing {
                        msg_id: 4242,
                        request_id: 77,
                        engine_id: &agent,
                        boots: 3,
                        time: 1234,
                        user: b"labuser",
                        level,
                        auth,
                        privacy,
                        des,
                        salt: &salt,
                        context_engine_id: &proxied,
                        context_name: b"labctx",
                        max_size: async_snmp::UDP_RECEIVE_LIMITS.advertised(),
                    },
                    &operation,
                )
                .unwrap();
                let (usm, scoped) = decode_request(&data, privacy, auth);
                assert_eq!(&usm.engine_id()[..], &agent[..], "{level:?}");
                assert_eq!((usm.engine_boots(), usm.engine_time()), (3, 1234));
                assert_eq!(&usm.username()[..], b"labuser");
                assert_eq!(&scoped.context_engine_id[..], &proxied[..], "{level:?}");
                assert_eq!(&scoped.context_name[..], b"labctx");
                let expected = match operation {
                    Operation::Get(_) => PduType::GetRequest,
                    Operation::GetNext(_) => PduType::GetNextRequest,
                    Operation::GetBulk { .. } => PduType::GetBulkRequest,
                };
                assert_eq!(scoped.pdu.pdu_type(), expected);
                assert_eq!(scoped.pdu.varbinds()[0].oid, oids[0]);
            }
        }
    }

    fn hex_bytes(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }
}
