//! obs-websocket's vendor API: requests and events of our own that remote tools (stream decks, bots, test
//! harnesses) reach through obs-websocket's `CallVendorRequest` and `VendorEvent`.
//!
//! obs-websocket offers it through libobs's proc handlers, found at run time, so the plugin neither links
//! to obs-websocket nor needs it: `obs_websocket_api_get_ph` on OBS's global proc handler gives
//! obs-websocket's own, which has `vendor_register`, `vendor_request_register` and `vendor_event_emit`
//! (the protocol of obs-websocket's header-only `lib/obs-websocket-api.h`, obs-websocket 5.0 and later).

use super::data::{cstr, Data, OwnedData};
use super::guard::guard;
use super::sys::*;
use std::ffi::c_void;
use std::mem::size_of;
use std::ptr::null_mut;

/// Fills the response from the request's data. Runs on one of obs-websocket's threads.
pub type RequestHandler = fn(request: Data<'_>, response: Data<'_>);

/// Why no vendor was registered.
#[derive(Debug)]
pub enum Unregistered {
    /// obs-websocket is not loaded (or too old to have the vendor API).
    NoWebsocket,
    /// obs-websocket is there but took no vendor of that name (one is registered already).
    Refused,
}

/// What obs-websocket keeps per request: its callback and the pointer handed back to it (copied on
/// registration, as obs-websocket-api.h's `struct obs_websocket_request_callback`).
#[repr(C)]
struct RequestCallback {
    callback: unsafe extern "C" fn(*mut obs_data_t, *mut obs_data_t, *mut c_void),
    priv_data: *mut c_void,
}

/// Our vendor, registered with obs-websocket, and obs-websocket's proc handler.
pub struct Vendor {
    handler: *mut proc_handler_t,
    vendor: *mut c_void,
}

// SAFETY: both pointers belong to obs-websocket, which lives until OBS shuts down and locks its own state.
unsafe impl Send for Vendor {}
unsafe impl Sync for Vendor {}

/// The libobs call data stack, freed when dropped (calldata_free is a static inline in libobs's header).
struct CallData(calldata_t);

impl CallData {
    fn new() -> CallData {
        CallData(calldata_t { stack: null_mut(), size: 0, capacity: 0, fixed: false })
    }

    fn set_string(&mut self, name: &str, value: &str) {
        let (n, v) = (cstr(name), cstr(value));
        let bytes = v.as_bytes_with_nul();
        unsafe { calldata_set_data(&mut self.0, n.as_ptr(), bytes.as_ptr().cast(), bytes.len() as size_t) };
    }

    fn set_ptr(&mut self, name: &str, value: *mut c_void) {
        let n = cstr(name);
        unsafe {
            calldata_set_data(
                &mut self.0,
                n.as_ptr(),
                (&value as *const *mut c_void).cast(),
                size_of::<*mut c_void>() as size_t,
            )
        };
    }

    fn ptr(&self, name: &str) -> *mut c_void {
        let n = cstr(name);
        let mut value: *mut c_void = null_mut();
        let found = unsafe {
            calldata_get_data(
                &self.0,
                n.as_ptr(),
                (&mut value as *mut *mut c_void).cast(),
                size_of::<*mut c_void>() as size_t,
            )
        };
        if found {
            value
        } else {
            null_mut()
        }
    }

    fn boolean(&self, name: &str) -> bool {
        let n = cstr(name);
        let mut value = false;
        let found = unsafe {
            calldata_get_data(&self.0, n.as_ptr(), (&mut value as *mut bool).cast(), size_of::<bool>() as size_t)
        };
        found && value
    }

    /// Calls `procedure` on `handler`; false when the handler has no such procedure.
    fn call(&mut self, handler: *mut proc_handler_t, procedure: &str) -> bool {
        let p = cstr(procedure);
        unsafe { proc_handler_call(handler, p.as_ptr(), &mut self.0) }
    }
}

impl Drop for CallData {
    fn drop(&mut self) {
        if !self.0.fixed && !self.0.stack.is_null() {
            unsafe { bfree(self.0.stack.cast()) };
        }
    }
}

impl Vendor {
    /// Registers vendor `name` with obs-websocket. Call from `obs_module_post_load`, when every module,
    /// obs-websocket too, is loaded, whichever loaded first.
    pub fn register(name: &str) -> Result<Vendor, Unregistered> {
        let global = unsafe { obs_get_proc_handler() };
        if global.is_null() {
            return Err(Unregistered::NoWebsocket);
        }
        let mut cd = CallData::new();
        if !cd.call(global, "obs_websocket_api_get_ph") {
            return Err(Unregistered::NoWebsocket);
        }
        let handler = cd.ptr("ph") as *mut proc_handler_t;
        if handler.is_null() {
            return Err(Unregistered::NoWebsocket);
        }
        let mut cd = CallData::new();
        cd.set_string("name", name);
        if !cd.call(handler, "vendor_register") {
            return Err(Unregistered::NoWebsocket);
        }
        let vendor = cd.ptr("vendor");
        if vendor.is_null() {
            return Err(Unregistered::Refused);
        }
        Ok(Vendor { handler, vendor })
    }

    /// Offers request `kind` (the `requestType` of `CallVendorRequest`), answered by `handler`.
    pub fn register_request(&self, kind: &str, handler: RequestHandler) -> bool {
        let callback = RequestCallback { callback: answer, priv_data: handler as *mut c_void };
        let mut cd = CallData::new();
        cd.set_ptr("vendor", self.vendor);
        cd.set_string("type", kind);
        cd.set_ptr("callback", (&callback as *const RequestCallback).cast_mut().cast());
        cd.call(self.handler, "vendor_request_register") && cd.boolean("success")
    }

    /// Sends event `kind` with `data` to every client subscribed to vendor events.
    pub fn emit(&self, kind: &str, data: Data<'_>) -> bool {
        let mut cd = CallData::new();
        cd.set_ptr("vendor", self.vendor);
        cd.set_string("type", kind);
        cd.set_ptr("data", data.raw().cast());
        cd.call(self.handler, "vendor_event_emit") && cd.boolean("success")
    }
}

/// Every request of ours comes through here, with the handler as its private data.
unsafe extern "C" fn answer(request: *mut obs_data_t, response: *mut obs_data_t, priv_data: *mut c_void) {
    guard("obs-websocket request", (), || unsafe {
        if priv_data.is_null() || response.is_null() {
            return;
        }
        // After our unload the vendor stays registered: obs-websocket may have unloaded first (modules unload
        // in reverse load order), so calling its API to withdraw the requests could reach freed memory. The
        // requests are answered with an error instead; the library stays mapped (platform::keep_loaded).
        if super::module::unloaded() {
            Data::new(response).set_string("error", "obs-virtual-background is unloaded (OBS is shutting down)");
            return;
        }
        // SAFETY: `priv_data` is the RequestHandler given in `register_request`.
        let handler: RequestHandler = std::mem::transmute::<*mut c_void, RequestHandler>(priv_data);
        // A request sent without requestData may come without an object: answer it as an empty one.
        let empty = OwnedData::new();
        let request = if request.is_null() { empty.data() } else { Data::new(request) };
        handler(request, Data::new(response));
    })
}
