/* kmod_load.c: loading a kernel module with libkmod (the one loader of bind's drivers and the bridge's module): the lookup, the insertion, libkmod's messages as debug lines, why it failed in one line. */
#include "cli/kmod_load.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <libkmod.h>

#include "util/log.h"

/* libkmod's own messages: debug lines of ours (what goes wrong is said once, by the caller). */
static void kmod_log(void *data, int priority, const char *file, int line, const char *fn, const char *format,
		     va_list args) __attribute__((format(printf, 6, 0)));

static void kmod_log(void *data, int priority, const char *file, int line, const char *fn, const char *format,
		     va_list args)
{
	char msg[512];

	if (log_threshold < LOG_LVL_DEBUG)
		return;
	vsnprintf(msg, sizeof(msg), format, args);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("libkmod: %s", msg);
}

static void explain(const char *name, const struct kmod_load_info *in, int ret, char *why, size_t why_len)
{
	if (ret > 0)
		snprintf(why, why_len, "module %s is blacklisted (modprobe.d): load it by hand (modprobe %s)", name,
			 name);
	else if (!in->found)
		snprintf(why, why_len,
			 "no module %s for this kernel (none in %s): install the kernel's modules, or boot a kernel "
			 "with it built in",
			 name, in->dir);
	else if (ret == -EPERM || ret == -EACCES)
		snprintf(why, why_len, "loading module %s needs root: run as root (or modprobe %s first)", name, name);
	else
		snprintf(why, why_len, "cannot load module %s (%s): %s (dmesg may say why)", name, in->path,
			 strerror(-ret));
}

int kmod_load(const char *modules_dir, const char *name, struct kmod_load_info *info, char *why, size_t why_len)
{
	struct kmod_load_info local;
	struct kmod_load_info *in = info ? info : &local;
	struct kmod_list *list = NULL, *l;
	struct kmod_ctx *ctx;
	int ret = -ENOENT;

	memset(in, 0, sizeof(*in));
	ctx = kmod_new(modules_dir && *modules_dir ? modules_dir : NULL, NULL);
	if (!ctx) {
		snprintf(why, why_len, "cannot load module %s: libkmod did not start (out of memory?)", name);
		return -ENOMEM;
	}
	kmod_set_log_fn(ctx, kmod_log, NULL);
	if (log_threshold >= LOG_LVL_DEBUG)
		kmod_set_log_priority(ctx, LOG_DEBUG);
	snprintf(in->dir, sizeof(in->dir), "%s", kmod_get_dirname(ctx) ? kmod_get_dirname(ctx) : "/lib/modules");
	if (kmod_module_new_from_lookup(ctx, name, &list) < 0)
		list = NULL;
	kmod_list_foreach(l, list) {
		struct kmod_module *mod = kmod_module_get_module(l);
		const char *p = kmod_module_get_path(mod);

		/* an alias may name modules this kernel has no file of: those are not there to load */
		if (p || kmod_module_get_initstate(mod) >= 0) {
			in->found = true;
			snprintf(in->path, sizeof(in->path), "%s", p ? p : "built in");
			/* as modprobe NAME does: a blacklist stops aliases only */
			ret = kmod_module_probe_insert_module(mod, KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY, NULL, NULL,
							      NULL, NULL);
			log_debug("libkmod: inserting %s (%s): %d", kmod_module_get_name(mod), in->path, ret);
			if (ret == -EEXIST)
				ret = 0;
		}
		kmod_module_unref(mod);
		if (ret >= 0)
			break;
	}
	kmod_module_unref_list(list);
	kmod_unref(ctx);
	if (ret == 0)
		return 0;
	explain(name, in, ret, why, why_len);
	return ret > 0 ? -EPERM : ret;
}
