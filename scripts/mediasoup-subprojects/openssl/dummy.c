int openssl_shim_dummy(void) { return 0; }
