//! The plugin's obs-websocket vendor, "obs-virtual-background": remote tools ask every filter's status
//! (`GetFilterStatus`, `ListFilters`) and hear of changes (`FilterStatusChanged`), without the status ever
//! being written into the filter's settings.

use super::data::{Data, DataArray, OwnedData};
use super::filter;
use super::source_ref::{all_source_names, SourceRef};
use super::websocket::{Unregistered, Vendor};
use crate::filter_status::FilterStatus;
use crate::settings::SettingsSource;
use std::sync::OnceLock;

pub const VENDOR_NAME: &str = "obs-virtual-background";
pub const STATUS_CHANGED: &str = "FilterStatusChanged";

static VENDOR: OnceLock<Vendor> = OnceLock::new();

/// Registers the vendor and its requests, once every module is loaded (obs-websocket may load before or
/// after this plugin). Without obs-websocket the plugin works as before; one line says so.
pub fn register() {
    if VENDOR.get().is_some() {
        return;
    }
    let vendor = match Vendor::register(VENDOR_NAME) {
        Ok(v) => v,
        Err(Unregistered::NoWebsocket) => {
            log::info!("obs-websocket not found: the filter's status is not offered to remote tools");
            return;
        }
        Err(Unregistered::Refused) => {
            log::warn!("obs-websocket refused the vendor '{VENDOR_NAME}' (another copy of the plugin loaded?)");
            return;
        }
    };
    let requests: [(&str, super::websocket::RequestHandler); 2] =
        [("GetFilterStatus", get_filter_status), ("ListFilters", list_filters)];
    let refused: Vec<&str> =
        requests.iter().filter(|(kind, handler)| !vendor.register_request(kind, *handler)).map(|r| r.0).collect();
    if refused.is_empty() {
        log::info!(
            "obs-websocket vendor '{VENDOR_NAME}': requests GetFilterStatus, ListFilters; event {STATUS_CHANGED}"
        );
    } else {
        log::warn!("obs-websocket refused the requests {} of vendor '{VENDOR_NAME}'", refused.join(", "));
    }
    let _ = VENDOR.set(vendor);
}

/// Tells subscribed clients that a filter's status changed (see `FilterStatus::announces_change_from`).
pub fn announce(source_name: &str, filter_name: &str, status: &FilterStatus) {
    if let Some(vendor) = VENDOR.get().filter(|_| !super::module::unloaded()) {
        let event = OwnedData::new();
        write_status(event.data(), source_name, filter_name, status);
        vendor.emit(STATUS_CHANGED, event.data());
    }
}

/// `GetFilterStatus {sourceName, filterName}` -> the status, or `{error}`.
fn get_filter_status(request: Data, response: Data) {
    let source_name = request.string("sourceName").unwrap_or_default();
    let filter_name = request.string("filterName").unwrap_or_default();
    let found = SourceRef::by_name(&source_name)
        .ok_or_else(|| format!("no source named '{source_name}'"))
        .and_then(|source| {
            source
                .filter_by_name(&filter_name)
                .ok_or_else(|| format!("'{source_name}' has no filter named '{filter_name}'"))
        })
        .and_then(|f| {
            filter::status_of(&f)
                .ok_or_else(|| format!("'{filter_name}' on '{source_name}' is not a Virtual Background filter"))
        });
    match found {
        Ok(status) => write_status(response, &source_name, &filter_name, &status),
        Err(e) => response.set_string("error", &e),
    }
}

/// `ListFilters` -> `{filters: [status, ...]}`: every source (inputs and scenes) carrying the filter.
fn list_filters(_: Data, response: Data) {
    let list = DataArray::new();
    // One source held at a time, and only while it is looked at.
    for source in all_source_names().iter().filter_map(|name| SourceRef::by_name(name)) {
        for f in source.filters() {
            if let Some(status) = filter::status_of(&f) {
                let item = OwnedData::new();
                write_status(item.data(), &source.name(), &f.name(), &status);
                list.push(&item);
            }
        }
    }
    response.set_array("filters", &list);
}

/// The status as obs-websocket clients read it (camelCase, as obs-websocket's own fields). Keys without a
/// value (no mask yet, no fault, no fallback) are left out: JSON null to a client.
fn write_status(out: Data, source_name: &str, filter_name: &str, s: &FilterStatus) {
    out.set_string("sourceName", source_name);
    out.set_string("filterName", filter_name);
    out.set_string("state", s.stage.key());
    out.set_string("model", &s.model);
    out.set_string("device", s.device.key());
    out.set_double("msPerMask", f64::from(s.ms_per_mask));
    out.set_double("masksPerSecond", f64::from(s.masks_per_second));
    out.set_bool("idle", s.idle);
    if let Some(lag) = s.mask_lag_frames {
        out.set_int("maskLagFrames", lag as i64);
    }
    out.set_bool("maskSynced", s.mask_synced);
    if let Some(c) = s.mask_crop {
        // Frame units, 0..1 of the frame's width and height (what `vbg render --crop` takes).
        let crop = OwnedData::new();
        crop.data().set_double("x", f64::from(c.x));
        crop.data().set_double("y", f64::from(c.y));
        crop.data().set_double("width", f64::from(c.w));
        crop.data().set_double("height", f64::from(c.h));
        out.set_object("maskCrop", &crop);
    }
    out.set_string("mode", s.mode.key());
    out.set_bool("enabled", s.enabled);
    out.set_string("maskView", s.mask_view.key());
    if let Some(fault) = &s.fault {
        let f = OwnedData::new();
        f.data().set_string("kind", fault.kind.key());
        f.data().set_string("reason", &fault.reason);
        out.set_object("fault", &f);
    }
    if let Some(fallback) = &s.fallback {
        let f = OwnedData::new();
        f.data().set_string("wanted", fallback.wanted.key());
        f.data().set_string("reason", &fallback.reason);
        out.set_object("fallback", &f);
    }
    out.set_string("statusText", &s.text);
}
