int libsrtp2_shim_dummy(void) { return 0; }
