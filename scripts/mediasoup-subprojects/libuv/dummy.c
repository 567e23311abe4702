int libuv_shim_dummy(void) { return 0; }
