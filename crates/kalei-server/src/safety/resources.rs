//! Crisis resources per region: fixed, verified text. Verify numbers with the
//! service itself before changing them (SPEC section 4).

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Resource {
    #[schema(example = "988 Suicide & Crisis Lifeline")]
    pub name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "988")]
    pub phone: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "988")]
    pub sms: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "https://988lifeline.org")]
    pub url: Option<&'static str>,
}

const fn r(
    name: &'static str,
    phone: Option<&'static str>,
    sms: Option<&'static str>,
    url: Option<&'static str>,
) -> Resource {
    Resource {
        name,
        phone,
        sms,
        url,
    }
}

const EMERGENCY_FALLBACK: Resource = r("Your local emergency number", None, None, None);

const FIND_A_HELPLINE: Resource = r(
    "Find a Helpline (free, confidential support worldwide)",
    None,
    None,
    Some("https://findahelpline.com"),
);

/// Regions with their own lines (ISO 3166-1 alpha-2). Others get
/// findahelpline.com and the local emergency number.
pub const SUPPORTED_REGIONS: &[&str] =
    &["US", "CA", "GB", "IE", "AU", "NZ", "DE", "FR", "ES", "IN"];

/// The resources for `region` (case-insensitive; `UK` is accepted for GB).
pub fn for_region(region: &str) -> Vec<Resource> {
    let region = region.trim().to_ascii_uppercase();
    let mut out = match region.as_str() {
        "US" => vec![
            r(
                "988 Suicide & Crisis Lifeline",
                Some("988"),
                Some("988"),
                Some("https://988lifeline.org"),
            ),
            r(
                "Crisis Text Line (text HOME)",
                None,
                Some("741741"),
                Some("https://www.crisistextline.org"),
            ),
        ],
        "CA" => vec![r(
            "9-8-8 Suicide Crisis Helpline",
            Some("988"),
            Some("988"),
            Some("https://988.ca"),
        )],
        "GB" | "UK" | "IE" => vec![r(
            "Samaritans",
            Some("116 123"),
            None,
            Some("https://www.samaritans.org"),
        )],
        "AU" => vec![r(
            "Lifeline Australia",
            Some("13 11 14"),
            None,
            Some("https://www.lifeline.org.au"),
        )],
        "NZ" => vec![r(
            "1737, Need to talk?",
            Some("1737"),
            Some("1737"),
            Some("https://1737.org.nz"),
        )],
        "DE" => vec![r(
            "TelefonSeelsorge",
            Some("0800 111 0 111"),
            None,
            Some("https://www.telefonseelsorge.de"),
        )],
        "FR" => vec![r(
            "3114, numéro national de prévention du suicide",
            Some("3114"),
            None,
            Some("https://3114.fr"),
        )],
        "ES" => vec![r(
            "024, Línea de atención a la conducta suicida",
            Some("024"),
            None,
            None,
        )],
        "IN" => vec![r(
            "Tele-MANAS",
            Some("14416"),
            None,
            Some("https://telemanas.mohfw.gov.in"),
        )],
        _ => vec![],
    };
    out.push(FIND_A_HELPLINE);
    if out.len() == 1 {
        out.push(EMERGENCY_FALLBACK);
    }
    out
}

/// Whether `region` is a valid two-letter code we accept in preferences.
pub fn is_valid_region(region: &str) -> bool {
    region.len() == 2 && region.bytes().all(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_get_their_lines() {
        let us = for_region("us");
        assert_eq!(us[0].phone, Some("988"));
        assert_eq!(us[1].sms, Some("741741"));
        assert_eq!(for_region("GB")[0].phone, Some("116 123"));
        assert_eq!(for_region("IE")[0].phone, Some("116 123"));
        assert_eq!(for_region("AU")[0].phone, Some("13 11 14"));
        assert_eq!(for_region("CA")[0].phone, Some("988"));
        assert_eq!(for_region("NZ")[0].phone, Some("1737"));
        assert_eq!(for_region("DE")[0].phone, Some("0800 111 0 111"));
        assert_eq!(for_region("FR")[0].phone, Some("3114"));
        assert_eq!(for_region("ES")[0].phone, Some("024"));
        assert_eq!(for_region("IN")[0].phone, Some("14416"));
        let other = for_region("BR");
        assert!(other
            .iter()
            .any(|r| r.url == Some("https://findahelpline.com")));
        assert!(other.iter().any(|r| r.name.contains("emergency")));
        for region in SUPPORTED_REGIONS {
            assert!(for_region(region)
                .iter()
                .any(|r| r.url == Some("https://findahelpline.com")));
        }
    }
}
