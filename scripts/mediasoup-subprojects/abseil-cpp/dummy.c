int absl_shim_dummy(void) { return 0; }
