//! Cursor pagination: `?limit=&cursor=` → `{"items": […], "next_cursor": …}`.
//! Ids are UUIDv7 (time-ordered), so the cursor is the last id seen, wrapped
//! so clients treat it as opaque.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1–100 (default 20).
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

/// A validated page request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: u32,
    /// Return items strictly older than this id.
    pub before_id: Option<String>,
}

impl PageParams {
    pub fn validate(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let before_id = match &self.cursor {
            None => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| {
                ApiError::bad_request("invalid_cursor", "The cursor is not one this API issued.")
            })?),
        };
        Ok(PageRequest { limit, before_id })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched newest first; the
    /// extra row only signals that there is a next page.
    pub fn from_rows(mut rows: Vec<T>, req: &PageRequest, id_of: impl Fn(&T) -> &str) -> Self {
        let next_cursor = if rows.len() > req.limit as usize {
            rows.truncate(req.limit as usize);
            rows.last().map(|r| encode_cursor(id_of(r)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

fn encode_cursor(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{id}"))
}

fn decode_cursor(cursor: &str) -> Option<String> {
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let id = s.strip_prefix("v1:")?;
    uuid::Uuid::parse_str(id).ok().map(|u| u.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_roundtrip_and_reject_garbage() {
        let id = uuid::Uuid::now_v7().to_string();
        assert_eq!(decode_cursor(&encode_cursor(&id)), Some(id));
        assert_eq!(decode_cursor("' OR 1=1 --"), None);
        assert_eq!(
            decode_cursor(&URL_SAFE_NO_PAD.encode("v1:not-a-uuid")),
            None
        );
    }

    #[test]
    fn limits_are_checked() {
        assert!(PageParams {
            limit: Some(0),
            cursor: None
        }
        .validate()
        .is_err());
        assert!(PageParams {
            limit: Some(101),
            cursor: None
        }
        .validate()
        .is_err());
        assert_eq!(
            PageParams::default().validate().unwrap().limit,
            DEFAULT_LIMIT
        );
    }

    #[test]
    fn pages_signal_more() {
        let req = PageRequest {
            limit: 2,
            before_id: None,
        };
        let ids: Vec<String> = (0..3).map(|_| uuid::Uuid::now_v7().to_string()).collect();
        let page = Page::from_rows(ids.clone(), &req, |s| s.as_str());
        assert_eq!(page.items.len(), 2);
        assert!(page.next_cursor.is_some());
        let page = Page::from_rows(ids[..2].to_vec(), &req, |s| s.as_str());
        assert!(page.next_cursor.is_none());
    }
}
