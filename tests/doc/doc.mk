# tests/doc/doc.mk: `make doc-check`: --help, the manual pages and README.md agree on every option, each one the parser takes, and the pages render without a warning (tests/doc/check_options.sh); part of `make check`.
.PHONY: doc-check
CHECK_TARGETS += doc-check

doc-check: $(PROXY)
	tests/doc/check_options.sh $(PROXY)
