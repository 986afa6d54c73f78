/* kmod_load.h: a kernel module and what it depends on loaded with libkmod, as modprobe would, for bind's drivers and the bridge's module alike, with one line saying why when it cannot be. */
#ifndef CLI_KMOD_LOAD_H
#define CLI_KMOD_LOAD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* What the lookup found, for a caller that words its own message. */
struct kmod_load_info {
	char dir[PATH_MAX];  /* the modules directory libkmod looked in */
	char path[PATH_MAX]; /* the module file inserted last, "built in", or "" when none was found */
	bool found;          /* a module of that name or alias exists: a file, built in, or loaded */
};

/*
 * Loads module name (a module's name or any alias: vfio-pci, nvme, vup_bridge) and its dependencies from
 * modules_dir (NULL or "": the running kernel's, /lib/modules/$(uname -r)); a blacklist (modprobe.d) stops
 * aliases only, as for modprobe NAME. info (may be NULL) is filled either way. 0 (loaded, already there,
 * or built in), or a negative errno with why saying it in one line: -ENOMEM libkmod did not start,
 * -ENOENT no such module (info->found false), -EPERM blacklisted or not root, another errno from the
 * kernel. Only debug lines are logged: the caller says what went wrong.
 */
int kmod_load(const char *modules_dir, const char *name, struct kmod_load_info *info, char *why, size_t why_len);

#endif /* CLI_KMOD_LOAD_H */
