//! The closed vocabularies of the model: event kinds, outcomes and destination kinds.

/// A name that is not in one of the model's vocabularies.
///
/// Display: `unknown kind "file.cpy"`, `unknown outcome "ok"`,
/// `unknown destination kind "usb"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct ParseNameError {
    /// Which vocabulary (`kind`, `outcome`, `destination kind`).
    pub what: &'static str,
    /// The rejected name.
    pub value: String,
}

macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = concat!("`", $text, "`")] $variant, )*
        }

        impl $name {
            /// Every value, in documentation order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )* ];

            /// The JSON spelling.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )*
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ParseNameError;

            fn from_str(s: &str) -> Result<Self, $crate::ParseNameError> {
                match s {
                    $( $text => Ok($name::$variant), )*
                    _ => Err($crate::ParseNameError { what: $what, value: s.to_owned() }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("a ", $what, " string"))
                    }
                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<$name, E> {
                        s.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

pub(crate) use vocabulary;

vocabulary! {
    /// What kind of action an event records (dotted, lower case). See `docs/events.md`.
    pub enum Kind ("kind") {
        /// A successful interactive or network logon.
        Logon = "logon",
        /// A logoff / session end.
        Logoff = "logoff",
        /// A failed logon attempt.
        LogonFailed = "logon.failed",
        /// A device (USB storage, phone, printer…) was connected.
        DeviceConnect = "device.connect",
        /// A device was disconnected.
        DeviceDisconnect = "device.disconnect",
        /// A file was opened.
        FileOpen = "file.open",
        /// A file's content was read.
        FileRead = "file.read",
        /// A file's content was written (modified).
        FileWrite = "file.write",
        /// A file was created.
        FileCreate = "file.create",
        /// A file was copied (the destination says where to).
        FileCopy = "file.copy",
        /// A file was moved.
        FileMove = "file.move",
        /// A file was renamed.
        FileRename = "file.rename",
        /// A file was deleted.
        FileDelete = "file.delete",
        /// A document was printed.
        Print = "print",
        /// An HTTP request (method unknown or not an upload/download).
        HttpRequest = "http.request",
        /// Data was uploaded over HTTP(S).
        HttpUpload = "http.upload",
        /// Data was downloaded over HTTP(S).
        HttpDownload = "http.download",
        /// An e-mail was sent.
        EmailSend = "email.send",
        /// An e-mail was received.
        EmailReceive = "email.receive",
        /// A process was started.
        ProcessStart = "process.start",
        /// A process ended.
        ProcessStop = "process.stop",
        /// Data was copied to the clipboard.
        ClipboardCopy = "clipboard.copy",
        /// Data was pasted from the clipboard.
        ClipboardPaste = "clipboard.paste",
        /// An account was created.
        AccountCreate = "account.create",
        /// An account was deleted.
        AccountDelete = "account.delete",
        /// An account was enabled.
        AccountEnable = "account.enable",
        /// An account was disabled.
        AccountDisable = "account.disable",
        /// An account's attributes were changed.
        AccountChange = "account.change",
        /// An account's password was reset.
        AccountPasswordReset = "account.password_reset",
        /// An account was added to a group.
        AccountGroupAdd = "account.group_add",
        /// An account was removed from a group.
        AccountGroupRemove = "account.group_remove",
        /// An account's privileges were changed.
        AccountPrivilegeChange = "account.privilege_change",
        /// A Mamori policy decision (e.g. a block or a warning) about another action.
        PolicyDecision = "policy.decision",
        /// An endpoint agent started collecting (`raw.previous` says how its last run ended).
        AgentStart = "agent.start",
        /// An endpoint agent is alive and collecting (sent periodically).
        AgentHeartbeat = "agent.heartbeat",
        /// An endpoint agent stopped collecting (service stop, signal, tampering).
        AgentStop = "agent.stop",
        /// A log record no more specific kind describes (its fields are in `raw`).
        LogRecord = "log.record",
    }
}

vocabulary! {
    /// How the action ended.
    pub enum Outcome ("outcome") {
        /// The action succeeded.
        Success = "success",
        /// The action failed (for a reason other than a policy).
        Failure = "failure",
        /// A policy blocked the action.
        Blocked = "blocked",
        /// A policy warned the user and the action went ahead.
        Warned = "warned",
        /// A policy would have blocked or warned, and the user (or an administrator) overrode it.
        Overridden = "overridden",
    }
}

vocabulary! {
    /// Where data went.
    pub enum DestinationKind ("destination kind") {
        /// Removable media: USB storage, SD card, phone (MTP), optical disc.
        Removable = "removable",
        /// A network file share (SMB/NFS).
        NetworkShare = "network_share",
        /// A cloud storage or SaaS service (sync client or API).
        Cloud = "cloud",
        /// A web site (browser upload, form post).
        Web = "web",
        /// E-mail.
        Email = "email",
        /// A printer.
        Printer = "printer",
        /// The same host (local disk, local account or group).
        Local = "local",
        /// The clipboard.
        Clipboard = "clipboard",
    }
}
