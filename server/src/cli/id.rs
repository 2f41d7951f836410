use std::process::ExitCode;

use serde_json::{Value, json};
use yiwang_core::identity::{self, IdNumber, LicenceId, Recognised, Sex, Uscc};

use super::{CliError, print_json};

#[derive(Debug, clap::Subcommand)]
pub enum IdCommand {
    /// Recognise and check a citizen ID number, USCC or licence identifier.
    /// Prints one JSON object; exit 0 valid, 1 invalid.
    Check {
        number: String,
        /// Accept a USCC whose check character is wrong (early pilot codes), with a warning.
        #[arg(long)]
        lenient: bool,
    },
}

pub fn run(command: IdCommand) -> Result<ExitCode, CliError> {
    match command {
        IdCommand::Check { number, lenient } => {
            let (valid, report) = check(number.trim(), lenient);
            print_json(&report);
            Ok(if valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn error_json(code: &str, message: String) -> Value {
    json!({ "code": code, "message": message })
}

/// The JSON report for one input, and whether it is valid.
fn check(input: &str, lenient: bool) -> (bool, Value) {
    let recognised = identity::recognise(input);
    if lenient && let Recognised::Uscc(Err(_)) = recognised {
        match Uscc::parse_lenient(input) {
            Ok((uscc, warning)) => {
                let mut report = uscc_json(&uscc);
                if let Some(warning) = warning {
                    report["warning"] = json!(warning.to_string());
                }
                return (true, report);
            }
            Err(e) => return (false, invalid("uscc", e.code(), e.to_string())),
        }
    }
    match recognised {
        Recognised::IdNumber(Ok(id)) => (true, id_json(&id, input.len() == 15)),
        Recognised::IdNumber(Err(e)) => (false, invalid("id_number", e.code(), e.to_string())),
        Recognised::Uscc(Ok(uscc)) => (true, uscc_json(&uscc)),
        Recognised::Uscc(Err(e)) => (false, invalid("uscc", e.code(), e.to_string())),
        Recognised::LicenceId(Ok(id)) => (true, licence_json(&id)),
        Recognised::LicenceId(Err(e)) => (false, invalid("licence_id", e.code(), e.to_string())),
        _ => (
            false,
            invalid(
                "unknown",
                identity::UNRECOGNISED_CODE,
                "not a citizen ID number, unified social credit code or licence identifier".into(),
            ),
        ),
    }
}

fn invalid(kind: &str, code: &str, message: String) -> Value {
    json!({ "kind": kind, "valid": false, "error": error_json(code, message) })
}

fn id_json(id: &IdNumber, upgraded: bool) -> Value {
    let region = id.region();
    json!({
        "kind": "id_number",
        "valid": true,
        "masked": id.masked(),
        "upgraded_from_15": upgraded,
        "region": {
            "code": region.as_str(),
            "province": region.province_name_zh(),
            "province_en": region.province_name_en(),
        },
        "birth_date": id.birth_date().to_string(),
        "sex": match id.sex() {
            Sex::Male => "male",
            Sex::Female => "female",
        },
    })
}

fn uscc_json(uscc: &Uscc) -> Value {
    json!({
        "kind": "uscc",
        "valid": true,
        "masked": uscc.masked(),
        "registration_department": uscc.registration_department().to_string(),
        "organisation_type": uscc.organisation_type().to_string(),
        "division_code": uscc.division_code().as_str(),
        "organisation_code": uscc.organisation_code(),
        "check": uscc.check_character().to_string(),
    })
}

fn licence_json(id: &LicenceId) -> Value {
    json!({
        "kind": "licence_id",
        "valid": true,
        "masked": id.masked(),
        "type_code": id.type_code(),
        "issuer": id.issuer().as_str(),
        "version": id.version(),
        "check": id.check_character().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_never_contain_the_full_id_number() {
        let (valid, report) = check("11010519491231002X", false);
        assert!(valid);
        assert!(!report.to_string().contains("11010519491231002X"));
        assert_eq!(report["masked"], "1101**********002X");
        let (valid, report) = check("11010519491231002Y", false);
        assert!(!valid);
        assert!(!report.to_string().contains("11010519491231002"));
    }
}
