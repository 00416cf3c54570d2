//! Whether the GPU has finished a copy to the CPU, asked without waiting.
//!
//! libobs maps a staging surface with a blocking map: on Direct3D 11 (OBS's renderer on Windows) mapping a
//! copy the GPU has not finished waits for it, on the graphics thread. libobs has no call to ask first, so
//! on D3D11 the filter asks the device itself: an event query, ended right after the copy is queued, reports
//! done once the GPU has passed that point (`ID3D11DeviceContext::GetData`, which never waits). A copy not
//! done when the filter would read it waits for a later frame, or is given up for a newer copy (analysis.rs).
//!
//! On OpenGL libobs offers no device object to ask; there the copy is read a frame after it was made, as
//! libobs does for its own video output, and the driver's map may wait (or, where starting a copy copies on
//! the CPU, it starts a frame later and is read at once: render/copy_start.rs).
//!
//! Everything here runs inside the graphics context (see graphics.rs), as OBS's own use of the device does.

use super::sys::{gs_get_device_obj, gs_get_device_type, GS_DEVICE_DIRECT3D_11};
use std::ffi::c_void;
use std::ptr::null_mut;

// Slots of the COM interfaces' method tables (d3d11.h; fixed by the ABI).
const RELEASE: usize = 2; // IUnknown::Release
const CREATE_QUERY: usize = 24; // ID3D11Device::CreateQuery
const GET_IMMEDIATE_CONTEXT: usize = 40; // ID3D11Device::GetImmediateContext
const END: usize = 28; // ID3D11DeviceContext::End
const GET_DATA: usize = 29; // ID3D11DeviceContext::GetData

const D3D11_QUERY_EVENT: u32 = 0;
const S_OK: i32 = 0;

#[repr(C)]
struct QueryDesc {
    query: u32,
    misc_flags: u32,
}

/// The method in slot `index` of COM object `object`'s table, as a function of type `F`.
///
/// SAFETY: `object` is a live COM object whose table has a method of type `F` in that slot.
unsafe fn method<F: Copy>(object: *mut c_void, index: usize) -> F {
    let table = unsafe { *(object as *const *const *const c_void) };
    let f = unsafe { *table.add(index) };
    unsafe { std::mem::transmute_copy::<*const c_void, F>(&f) }
}

/// SAFETY: `object` is a live COM object this code holds a reference to.
unsafe fn release(object: *mut c_void) {
    if !object.is_null() {
        let f: unsafe extern "system" fn(*mut c_void) -> u32 = unsafe { method(object, RELEASE) };
        unsafe { f(object) };
    }
}

/// One event query on the D3D11 device's immediate context.
pub struct CopyFence {
    context: *mut c_void,
    query: *mut c_void,
}

impl CopyFence {
    /// A fence where the renderer can be asked (D3D11); None elsewhere (OpenGL) or if the device refuses.
    pub fn new() -> Option<CopyFence> {
        if unsafe { gs_get_device_type() } != GS_DEVICE_DIRECT3D_11 as i32 {
            return None;
        }
        let device = unsafe { gs_get_device_obj() };
        if device.is_null() {
            return None;
        }
        let mut context = null_mut();
        let mut query = null_mut();
        // SAFETY: on D3D11 libobs's device object is its ID3D11Device, alive while the graphics context is.
        unsafe {
            let get_context: unsafe extern "system" fn(*mut c_void, *mut *mut c_void) =
                method(device, GET_IMMEDIATE_CONTEXT);
            get_context(device, &mut context);
            let create_query: unsafe extern "system" fn(*mut c_void, *const QueryDesc, *mut *mut c_void) -> i32 =
                method(device, CREATE_QUERY);
            let desc = QueryDesc { query: D3D11_QUERY_EVENT, misc_flags: 0 };
            if create_query(device, &desc, &mut query) != S_OK || query.is_null() || context.is_null() {
                release(query);
                release(context);
                return None;
            }
        }
        Some(CopyFence { context, query })
    }

    /// Marks the point after the copy just queued.
    pub fn mark(&self) {
        // SAFETY: both objects are held by this fence.
        unsafe {
            let end: unsafe extern "system" fn(*mut c_void, *mut c_void) = method(self.context, END);
            end(self.context, self.query);
        }
    }

    /// Whether the GPU has passed the mark, without waiting (S_FALSE: not yet; an error counts as not yet).
    pub fn passed(&self) -> bool {
        // SAFETY: as in `mark`; an event query's data may be skipped (no buffer, size 0).
        unsafe {
            let get_data: unsafe extern "system" fn(*mut c_void, *mut c_void, *mut c_void, u32, u32) -> i32 =
                method(self.context, GET_DATA);
            get_data(self.context, self.query, null_mut(), 0, 0) == S_OK
        }
    }
}

impl Drop for CopyFence {
    fn drop(&mut self) {
        // SAFETY: the fence holds one reference to each.
        unsafe {
            release(self.query);
            release(self.context);
        }
    }
}
