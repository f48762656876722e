#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| bt_fuzz::krpc(data));
