//! Windows event log records as Sigma sees them (mapping in `docs/rules.md`).
//!
//! - The log source of a record follows the Sigma taxonomy (appendix, "Windows Folder"): the
//!   channel gives the service, the channel and event id give the categories (Sysmon 1 is
//!   `process_creation`, Security 4688 too).
//! - The fields are the record's `EventData` / `UserData` fields under their XML names, plus
//!   `EventID`, `Channel`, `Computer` and `Provider_Name` (the taxonomy's name for the
//!   provider). Security 4688 also answers to the Sysmon names rules use for process creation
//!   (`Image`, `ParentImage`), as pySigma's Windows audit pipeline maps them.

use serde_json::{Map, Value};

use crate::sigma::engine::json_value;
use crate::sigma::{EventSource, FieldValue, Record};

/// The `raw` key of the provider name (Mamori's EVTX importer) and Sigma's name for it.
const PROVIDER: &str = "Provider";
const PROVIDER_NAME: &str = "Provider_Name";

/// Sigma service of each channel (taxonomy appendix, Windows services).
const SERVICES: &[(&str, &str)] = &[
    ("Application", "application"),
    (
        "Microsoft-Windows-Application-Experience/Program-Telemetry",
        "application-experience",
    ),
    (
        "Microsoft-Windows-Application-Experience/Program-Compatibility-Assistant",
        "application-experience",
    ),
    ("Microsoft-Windows-AppLocker/MSI and Script", "applocker"),
    ("Microsoft-Windows-AppLocker/EXE and DLL", "applocker"),
    (
        "Microsoft-Windows-AppLocker/Packaged app-Deployment",
        "applocker",
    ),
    (
        "Microsoft-Windows-AppLocker/Packaged app-Execution",
        "applocker",
    ),
    (
        "Microsoft-Windows-AppModel-Runtime/Admin",
        "appmodel-runtime",
    ),
    (
        "Microsoft-Windows-AppXDeploymentServer/Operational",
        "appxdeployment-server",
    ),
    (
        "Microsoft-Windows-AppxPackaging/Operational",
        "appxpackaging-om",
    ),
    (
        "Microsoft-Windows-BitLocker/BitLocker Management",
        "bitlocker",
    ),
    ("Microsoft-Windows-Bits-Client/Operational", "bits-client"),
    ("Microsoft-Windows-CAPI2/Operational", "capi2"),
    (
        "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational",
        "certificateservicesclient-lifecycle-system",
    ),
    (
        "Microsoft-Windows-CodeIntegrity/Operational",
        "codeintegrity-operational",
    ),
    ("Microsoft-Windows-DHCP-Server/Operational", "dhcp"),
    (
        "Microsoft-Windows-Diagnosis-Scripted/Operational",
        "diagnosis-scripted",
    ),
    (
        "Microsoft-Windows-DNS Client Events/Operational",
        "dns-client",
    ),
    ("DNS Server", "dns-server"),
    (
        "Microsoft-Windows-DNS-Server/Analytical",
        "dns-server-analytic",
    ),
    ("Microsoft-Windows-DNS-Server/Audit", "dns-server-audit"),
    (
        "Microsoft-Windows-DriverFrameworks-UserMode/Operational",
        "driver-framework",
    ),
    (
        "Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",
        "firewall-as",
    ),
    ("Microsoft-Windows-Hyper-V-Worker", "hyper-v-worker"),
    (
        "Microsoft-IIS-Configuration/Operational",
        "iis-configuration",
    ),
    (
        "Microsoft-Windows-Kernel-EventTracing",
        "kernel-event-tracing",
    ),
    (
        "Microsoft-Windows-Kernel-ShimEngine/Operational",
        "kernel-shimengine",
    ),
    (
        "Microsoft-Windows-Kernel-ShimEngine/Diagnostic",
        "kernel-shimengine",
    ),
    ("Microsoft-Windows-LDAP-Client/Debug", "ldap"),
    ("Microsoft-Windows-LSA/Operational", "lsa-server"),
    ("MSExchange Management", "msexchange-management"),
    ("Microsoft-Windows-Ntfs/Operational", "ntfs"),
    ("Microsoft-Windows-NTLM/Operational", "ntlm"),
    ("OpenSSH/Operational", "openssh"),
    ("Microsoft-Windows-PowerShell/Operational", "powershell"),
    ("PowerShellCore/Operational", "powershell"),
    ("Windows PowerShell", "powershell-classic"),
    ("Microsoft-Windows-PrintService/Admin", "printservice-admin"),
    (
        "Microsoft-Windows-PrintService/Operational",
        "printservice-operational",
    ),
    ("Security", "security"),
    (
        "Microsoft-Windows-Security-Mitigations/Kernel Mode",
        "security-mitigations",
    ),
    (
        "Microsoft-Windows-Security-Mitigations/User Mode",
        "security-mitigations",
    ),
    ("Microsoft-Windows-SENSE/Operational", "sense"),
    (
        "Microsoft-ServiceBus-Client/Operational",
        "servicebus-client",
    ),
    ("Microsoft-ServiceBus-Client/Admin", "servicebus-client"),
    ("Microsoft-Windows-Shell-Core/Operational", "shell-core"),
    ("Microsoft-Windows-SmbClient/Security", "smbclient-security"),
    ("Microsoft-Windows-Sysmon/Operational", "sysmon"),
    ("System", "system"),
    (
        "Microsoft-Windows-TaskScheduler/Operational",
        "taskscheduler",
    ),
    (
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
        "terminalservices-localsessionmanager",
    ),
    ("Microsoft-Windows-VHDMP/Operational", "vhdmp"),
    (
        "Microsoft-Windows-Windows Defender/Operational",
        "windefend",
    ),
    ("Microsoft-Windows-WMI-Activity/Operational", "wmi"),
];

/// Sigma categories of a Sysmon event id (taxonomy appendix, Windows categories).
fn sysmon_categories(event_id: i64) -> &'static [&'static str] {
    match event_id {
        1 => &["process_creation"],
        2 => &["file_change"],
        3 => &["network_connection"],
        4 | 16 => &["sysmon_status"],
        5 => &["process_termination"],
        6 => &["driver_load"],
        7 => &["image_load"],
        8 => &["create_remote_thread"],
        9 => &["raw_access_thread"],
        10 => &["process_access"],
        11 => &["file_event"],
        12 => &["registry_event", "registry_add", "registry_delete"],
        13 => &["registry_event", "registry_set"],
        14 => &["registry_event", "registry_rename"],
        15 => &["create_stream_hash"],
        17 | 18 => &["pipe_created"],
        19..=21 => &["wmi_event"],
        22 => &["dns_query"],
        23 => &["file_delete"],
        24 => &["clipboard_capture"],
        25 => &["process_tampering"],
        26 => &["file_delete_detected"],
        27 => &["file_block_executable"],
        28 => &["file_block_shredding"],
        29 => &["file_executable_detected"],
        255 => &["sysmon_error"],
        _ => &[],
    }
}

/// The Sigma log source of a record from `channel` with `event_id`.
pub fn event_source(channel: &str, event_id: i64) -> EventSource {
    let service = SERVICES
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(channel))
        .map(|(_, s)| *s);
    let categories: &[&str] = match (service, event_id) {
        (Some("sysmon"), id) => sysmon_categories(id),
        (Some("security"), 4688) => &["process_creation"],
        (Some("powershell"), 4103) => &["ps_module"],
        (Some("powershell"), 4104) => &["ps_script"],
        (Some("powershell-classic"), 400) => &["ps_classic_start"],
        (Some("powershell-classic"), 600) => &["ps_classic_provider_start"],
        (Some("powershell-classic"), 800) => &["ps_classic_script"],
        _ => &[],
    };
    EventSource {
        product: Some("windows".to_string()),
        service: service.map(str::to_string),
        categories: categories.iter().map(|c| c.to_string()).collect(),
    }
}

/// Sigma's view of an imported record's `raw` map (`Channel`, `EventID`, `Provider`,
/// `Computer` and the event's own fields).
pub struct WindowsRecord<'a> {
    raw: &'a Map<String, Value>,
    /// Extra names: (Sigma name, raw name).
    aliases: &'static [(&'static str, &'static str)],
    /// Names with spaces (Defender's `Threat Name`) also answer without them (`ThreatName`),
    /// as the specification's field naming rule asks.
    spaceless: Vec<(String, &'a Value)>,
}

impl<'a> WindowsRecord<'a> {
    pub fn new(raw: &'a Map<String, Value>) -> WindowsRecord<'a> {
        let security_4688 = raw.get("Channel").and_then(Value::as_str) == Some("Security")
            && event_id(raw) == Some(4688);
        let spaceless = raw
            .iter()
            .filter(|(name, _)| name.contains(' '))
            .map(|(name, value)| (name.replace(' ', ""), value))
            .collect();
        WindowsRecord {
            raw,
            spaceless,
            aliases: if security_4688 {
                &[
                    (PROVIDER_NAME, PROVIDER),
                    ("Image", "NewProcessName"),
                    ("ParentImage", "ParentProcessName"),
                ]
            } else {
                &[(PROVIDER_NAME, PROVIDER)]
            },
        }
    }

    /// The record's log source.
    pub fn source(&self) -> EventSource {
        let channel = self
            .raw
            .get("Channel")
            .and_then(Value::as_str)
            .unwrap_or("");
        event_source(channel, event_id(self.raw).unwrap_or(-1))
    }
}

fn event_id(raw: &Map<String, Value>) -> Option<i64> {
    match raw.get("EventID")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Record for WindowsRecord<'_> {
    fn fields(&self) -> impl Iterator<Item = (&str, FieldValue<'_>)> {
        let aliased = self.aliases.iter().filter_map(|(sigma, raw)| {
            let value = json_value(self.raw.get(*raw)?)?;
            Some((*sigma, value))
        });
        let spaceless = self
            .spaceless
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), json_value(value)?)));
        self.raw.fields().chain(aliased).chain(spaceless)
    }
}
