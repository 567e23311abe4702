int usrsctp_shim_dummy(void) { return 0; }
