//! Connections to libobs's global signals ("source_create", "source_rename", "source_remove"), which it emits
//! for public sources on whichever thread made the change.

use super::guard::guard;
use super::sys::*;
use std::ffi::{c_void, CStr, CString};

/// What a handler is told: the source the signal is about and, for renames, the new and previous names.
pub struct SourceSignal<'a> {
    pub source: *mut obs_source_t,
    data: &'a calldata_t,
}

impl SourceSignal<'_> {
    pub fn string(&self, key: &CStr) -> Option<String> {
        let mut value: *const std::os::raw::c_char = std::ptr::null();
        // SAFETY: `data` is the live calldata of the signal being handled.
        let found = unsafe { calldata_get_string(self.data, key.as_ptr(), &mut value) };
        (found && !value.is_null()).then(|| unsafe { CStr::from_ptr(value) }.to_string_lossy().into_owned())
    }
}

pub type Handler = fn(&SourceSignal<'_>, *const c_void);

struct Connection {
    signal: CString,
    handler: Handler,
    context: *const c_void,
}

/// A handler connected to one global signal, with a context pointer; disconnected when dropped. libobs
/// disconnects under the signal's lock, so once `drop` returns no call is running or will start.
pub struct GlobalSignal(Box<Connection>);

// SAFETY: the context is only handed back to the handler; its owner makes it safe to share.
unsafe impl Send for GlobalSignal {}
unsafe impl Sync for GlobalSignal {}

impl GlobalSignal {
    /// Connects `handler` to `signal`; `context` must stay valid until the returned value is dropped.
    pub fn connect(signal: &CStr, handler: Handler, context: *const c_void) -> GlobalSignal {
        let connection = Box::new(Connection { signal: signal.to_owned(), handler, context });
        let param = (&*connection as *const Connection).cast_mut().cast();
        unsafe { signal_handler_connect(obs_get_signal_handler(), connection.signal.as_ptr(), Some(dispatch), param) };
        GlobalSignal(connection)
    }
}

impl Drop for GlobalSignal {
    fn drop(&mut self) {
        let param = (&*self.0 as *const Connection).cast_mut().cast();
        unsafe { signal_handler_disconnect(obs_get_signal_handler(), self.0.signal.as_ptr(), Some(dispatch), param) };
    }
}

unsafe extern "C" fn dispatch(param: *mut c_void, data: *mut calldata_t) {
    guard("signal", (), || unsafe {
        let connection = &*(param as *const Connection);
        let Some(data) = data.as_ref() else { return };
        let mut source: *mut obs_source_t = std::ptr::null_mut();
        let size = std::mem::size_of::<*mut obs_source_t>();
        if !calldata_get_data(data, c"source".as_ptr(), (&mut source as *mut *mut obs_source_t).cast(), size as _)
            || source.is_null()
        {
            return;
        }
        (connection.handler)(&SourceSignal { source, data }, connection.context);
    })
}
