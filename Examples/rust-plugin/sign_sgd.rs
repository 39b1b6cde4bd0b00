//! sign_sgd: a canonedit plugin in Rust, with no crates and no bindings generator. It trains the
//! parameters whose names match `params_regex` with sign-SGD (p -= lr · sign(g)) and describes
//! itself to the host (ABI 1.3). docs/plugin-authors.md §7 walks through it.
//!
//! Build:  rustc --edition 2021 -O --crate-type cdylib sign_sgd.rs -o libsign_sgd.so
//! Use:    canonedit plugins check ./libsign_sgd.so
//!         canonedit run config.yaml --plugin-path .      (with finetune_type: sign_sgd)
//!
//! The structs mirror canonedit_plugin.h field for field; the `assert!`s below stop the build
//! when a size differs from the header's (its _Static_assert block states the same sizes).
#![allow(non_camel_case_types, dead_code)]
use std::ffi::{c_char, c_void, CStr};
use std::mem::size_of;

type Status = i32;
const CE_OK: Status = 0;
const CE_ERR_INVALID_ARGUMENT: Status = 1;
const CE_API_MAJOR: u32 = 1;
const CE_API_MINOR: u32 = 3;
const CE_CAP_TRAINS: u64 = 1;
const CE_HP_STRING: i32 = 4;
const CE_HP_NO_SWEEP: u32 = 1 << 1;

#[repr(C)]
pub struct ce_tensor { data: *mut f32, count: i64, ndim: i32, reserved: i32, shape: [i64; 4] }

#[repr(C)]
pub struct ce_hyperparameter {
    name: *const c_char, type_: i32, flags: u32, min: f64, max: f64, default_number: f64,
    default_string: *const c_char, sweep_min: f64, sweep_max: f64, help: *const c_char,
}

#[repr(C)]
pub struct ce_update_info { struct_size: u32, epoch: i32, epochs: i32, reserved: i32, step: i64, learning_rate: f64 }

type Ctx = *mut c_void;
type Param = *mut c_void;
/// A function pointer this plugin does not call: same size and place as the header's.
type Unused = usize;

#[repr(C)]
pub struct ce_host {
    api_major: u32, api_minor: u32, struct_size: u32, reserved: u32, ctx: Ctx,
    set_error: extern "C" fn(Ctx, *const c_char),
    log: Unused, progress: Unused, cancelled: Unused,
    option_number: Unused,
    option_string: extern "C" fn(Ctx, *const c_char, *mut *const c_char) -> Status,
    model_info: Unused, example_count: Unused, example_tokens: Unused,
    param_count: extern "C" fn(Ctx) -> i64,
    param_at: extern "C" fn(Ctx, i64, *mut Param) -> Status,
    param_find: Unused,
    param_name: extern "C" fn(Ctx, Param) -> *const c_char,
    param_value: extern "C" fn(Ctx, Param, *mut ce_tensor) -> Status,
    param_grad: extern "C" fn(Ctx, Param, *mut ce_tensor) -> Status,
    train_param: extern "C" fn(Ctx, Param) -> Status,
    train_rows: Unused, module_count: Unused, module_name: Unused,
    module_matches: extern "C" fn(Ctx, *const c_char, *const c_char) -> i32,
    attach_low_rank: Unused, adam_step: Unused, random_u64: Unused, random_uniform: Unused,
    random_normal: Unused, alloc: Unused, free: Unused, get_extension: Unused, corpus_size: Unused,
    corpus_document: Unused, task_loss: Unused, generate: Unused, train_entries: Unused,
}

#[repr(C)]
pub struct ce_outline {
    struct_size: u32, reserved: u32, ctx: Ctx,
    set_error: extern "C" fn(Ctx, *const c_char),
    option_number: Unused,
    option_string: extern "C" fn(Ctx, *const c_char, *mut *const c_char) -> Status,
    model_info: Unused, example_count: Unused, longest_example: Unused, sequential: Unused,
    param_count: Unused, param_name: Unused, param_elements: Unused, module_count: Unused,
    module_name: Unused, module_shape: Unused, module_matches: Unused,
    will_train: extern "C" fn(Ctx, *const c_char) -> Status,
    will_attach_low_rank: Unused, will_add: Unused, will_hold: Unused, will_run: Unused,
    may_change: extern "C" fn(Ctx, *const c_char) -> Status,
}

#[repr(C)]
pub struct ce_plugin_descriptor {
    api_major: u32, api_minor: u32, struct_size: u32, reserved: u32,
    id: *const c_char, version: *const c_char, description: *const c_char,
    capabilities: u64, hyperparameter_count: i32, reserved2: i32, hyperparameters: *const ce_hyperparameter,
    create: extern "C" fn(*const ce_host, *mut *mut c_void) -> Status,
    prepare: Option<extern "C" fn(*mut c_void, *const ce_host) -> Status>,
    update: Option<extern "C" fn(*mut c_void, *const ce_host, *const ce_update_info) -> Status>,
    apply: Option<extern "C" fn(*mut c_void, *const ce_host) -> Status>,
    destroy: extern "C" fn(*mut c_void),
    describe: Option<extern "C" fn(*const ce_outline) -> Status>,
    learning_rate_sweep_min: f64, learning_rate_sweep_max: f64,
}

// The header's sizes on 64-bit targets.
const _: () = assert!(size_of::<ce_tensor>() == 56);
const _: () = assert!(size_of::<ce_hyperparameter>() == 72);
const _: () = assert!(size_of::<ce_update_info>() == 32);
const _: () = assert!(size_of::<ce_host>() == 288);
const _: () = assert!(size_of::<ce_outline>() == 176);
const _: () = assert!(size_of::<ce_plugin_descriptor>() == 128);

/// The run's state: the handles of what it trains (borrowed from the host until destroy).
struct SignSgd { trained: Vec<Param> }

fn c(s: &'static str) -> *const c_char { s.as_ptr() as *const c_char }  // each literal ends in \0

fn option(host: &ce_host, name: &'static str) -> Result<String, Status> {
    let mut p: *const c_char = std::ptr::null();
    let s = (host.option_string)(host.ctx, c(name), &mut p);
    if s != CE_OK { return Err(s); }
    Ok(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

extern "C" fn create(_host: *const ce_host, instance: *mut *mut c_void) -> Status {
    unsafe { *instance = Box::into_raw(Box::new(SignSgd { trained: Vec::new() })) as *mut c_void };
    CE_OK
}

/// Every parameter whose name matches `params_regex`, trained whole.
extern "C" fn prepare(instance: *mut c_void, host: *const ce_host) -> Status {
    let (me, host) = unsafe { (&mut *(instance as *mut SignSgd), &*host) };
    let pattern = match option(host, "params_regex\0") { Ok(p) => p + "\0", Err(s) => return s };
    for i in 0..(host.param_count)(host.ctx) {
        let mut p: Param = std::ptr::null_mut();
        let s = (host.param_at)(host.ctx, i, &mut p);
        if s != CE_OK { return s; }
        if (host.module_matches)(host.ctx, (host.param_name)(host.ctx, p), pattern.as_ptr() as *const c_char) == 1 {
            let s = (host.train_param)(host.ctx, p);
            if s != CE_OK { return s; }
            me.trained.push(p);
        }
    }
    if me.trained.is_empty() {
        (host.set_error)(host.ctx, c("sign_sgd: params_regex matched no parameter\0"));
        return CE_ERR_INVALID_ARGUMENT;
    }
    CE_OK
}

/// p -= lr · sign(g), in place.
extern "C" fn update(instance: *mut c_void, host: *const ce_host, info: *const ce_update_info) -> Status {
    let (me, host, lr) = unsafe { (&*(instance as *mut SignSgd), &*host, (*info).learning_rate as f32) };
    for &p in &me.trained {
        let mut v = ce_tensor { data: std::ptr::null_mut(), count: 0, ndim: 0, reserved: 0, shape: [1; 4] };
        let mut g = ce_tensor { data: std::ptr::null_mut(), count: 0, ndim: 0, reserved: 0, shape: [1; 4] };
        if (host.param_value)(host.ctx, p, &mut v) != CE_OK || (host.param_grad)(host.ctx, p, &mut g) != CE_OK {
            return CE_ERR_INVALID_ARGUMENT;
        }
        let v = unsafe { std::slice::from_raw_parts_mut(v.data, v.count as usize) };
        let g = unsafe { std::slice::from_raw_parts(g.data, g.count as usize) };
        for (x, d) in v.iter_mut().zip(g) { if *d != 0.0 { *x -= lr * d.signum(); } }
    }
    CE_OK
}

extern "C" fn destroy(instance: *mut c_void) { drop(unsafe { Box::from_raw(instance as *mut SignSgd) }); }

/// Before any weight is read: the tensors prepare will train, and that an edit changes those.
extern "C" fn describe(o: *const ce_outline) -> Status {
    let o = unsafe { &*o };
    let mut p: *const c_char = std::ptr::null();
    let s = (o.option_string)(o.ctx, c("params_regex\0"), &mut p);
    if s != CE_OK { return s; }
    let s = (o.will_train)(o.ctx, p);
    if s != CE_OK { return s; }
    (o.may_change)(o.ctx, p)
}

struct Descriptor(ce_plugin_descriptor);
unsafe impl Sync for Descriptor {}
struct Schema([ce_hyperparameter; 1]);
unsafe impl Sync for Schema {}

static SCHEMA: Schema = Schema([ce_hyperparameter {
    name: b"params_regex\0".as_ptr() as *const c_char, type_: CE_HP_STRING, flags: CE_HP_NO_SWEEP,
    min: 0.0, max: 0.0, default_number: 0.0, default_string: b"model\\.norm\\.weight\0".as_ptr() as *const c_char,
    sweep_min: 0.0, sweep_max: 0.0,
    help: b"which parameters to train (full match on Hugging Face names)\0".as_ptr() as *const c_char,
}]);

static DESCRIPTOR: Descriptor = Descriptor(ce_plugin_descriptor {
    api_major: CE_API_MAJOR, api_minor: CE_API_MINOR, struct_size: size_of::<ce_plugin_descriptor>() as u32,
    reserved: 0, id: b"sign_sgd\0".as_ptr() as *const c_char, version: b"1.0.0\0".as_ptr() as *const c_char,
    description: b"Example Rust plugin: sign-SGD on the parameters params_regex names\0".as_ptr() as *const c_char,
    capabilities: CE_CAP_TRAINS, hyperparameter_count: 1, reserved2: 0, hyperparameters: &SCHEMA.0 as *const _,
    create, prepare: Some(prepare), update: Some(update), apply: None, destroy, describe: Some(describe),
    learning_rate_sweep_min: 1e-5, learning_rate_sweep_max: 1e-2,
});

#[no_mangle]
pub extern "C" fn canonedit_plugin_entry(major: u32, _minor: u32) -> *const ce_plugin_descriptor {
    if major == CE_API_MAJOR { &DESCRIPTOR.0 } else { std::ptr::null() }
}
