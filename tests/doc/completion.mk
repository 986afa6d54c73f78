# tests/doc/completion.mk: `make completion-check`, the bash completion (completion/vfio-user-proxy) tested against the proxy's --help texts and a fake sysfs tree; part of `make check`.
.PHONY: completion-check
completion-check: $(PROXY)
	tests/doc/test_completion.sh $(abspath $(PROXY))

CHECK_TARGETS += completion-check
