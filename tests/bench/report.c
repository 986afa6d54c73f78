/* report.c: samples and their statistics, and the report: figures beside their baselines, targets, as a table or JSON. */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIGURES 160
#define MAX_SECTIONS 16
#define MAX_TARGETS 24
#define MAX_NOTES 24

struct baseline {
	char what[64];
	struct measure m;
};

struct figure {
	const char *section;
	char name[80];
	enum unit unit;
	struct measure proxy;
	bool missing;
	char reason[96];
	unsigned int nbase;
	struct baseline base[BENCH_MAX_BASES];
};

struct section {
	const char *id;
	const char *title;
	const char *baseline;
};

struct target {
	char what[96];
	double measured;
	double limit;
	bool at_most;
	char unit[16];
	char limited_by[240];
};

static struct figure figures[MAX_FIGURES];
static unsigned int nfigures;
static struct section sections[MAX_SECTIONS];
static unsigned int nsections;
static struct target targets[MAX_TARGETS];
static unsigned int ntargets;
static char notes[MAX_NOTES][240];
static unsigned int nnotes;
static unsigned int nmissing;

/* ---- samples ---- */

int samples_init(struct samples *s, size_t cap)
{
	s->v = malloc(cap * sizeof(*s->v));
	s->n = 0;
	s->cap = s->v ? cap : 0;
	return s->v ? 0 : -ENOMEM;
}

void samples_add(struct samples *s, uint64_t v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint64_t *p = realloc(s->v, cap * sizeof(*p));

		if (!p)
			return; /* the sample is lost, the statistics stay valid */
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = v;
}

void samples_reset(struct samples *s)
{
	s->n = 0;
}

void samples_free(struct samples *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

double samples_quantile(struct samples *s, double q)
{
	size_t i;

	if (!s->n)
		return NAN;
	qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	i = (size_t)ceil(q * (double)s->n);
	i = i ? i - 1 : 0;
	if (i >= s->n)
		i = s->n - 1;
	return (double)s->v[i];
}

double samples_mean(const struct samples *s)
{
	double sum = 0;

	if (!s->n)
		return NAN;
	for (size_t i = 0; i < s->n; i++)
		sum += (double)s->v[i];
	return sum / (double)s->n;
}

struct measure measure_latency(struct samples *s)
{
	double mean = samples_mean(s);

	return (struct measure){
		.median = samples_quantile(s, 0.5),
		.p99 = samples_quantile(s, 0.99),
		.rate = mean > 0 ? 1e9 / mean : NAN,
	};
}

struct measure measure_best_round(const struct samples *s, unsigned int rounds)
{
	size_t per = rounds ? s->n / rounds : 0;
	struct samples all = { 0 }, one = { 0 };
	struct measure m = { .median = NAN, .p99 = NAN, .rate = NAN };

	if (!per || samples_init(&one, per) || samples_init(&all, s->n))
		goto out;
	for (size_t i = 0; i < s->n; i++)
		samples_add(&all, s->v[i]);
	m = measure_latency(&all);
	for (unsigned int r = 0; r < rounds; r++) {
		double med;

		samples_reset(&one);
		for (size_t i = 0; i < per; i++)
			samples_add(&one, s->v[r * per + i]);
		med = samples_quantile(&one, 0.5);
		if (r == 0 || med < m.median)
			m.median = med;
	}
out:
	samples_free(&one);
	samples_free(&all);
	return m;
}

struct measure measure_value(double v)
{
	return (struct measure){ .median = v, .p99 = NAN, .rate = NAN };
}

struct measure measure_throughput(struct samples *s, size_t bytes)
{
	double med = samples_quantile(s, 0.5), p99 = samples_quantile(s, 0.99);

	return (struct measure){
		.median = med > 0 ? (double)bytes * 1e3 / med : NAN,
		.p99 = p99 > 0 ? (double)bytes * 1e3 / p99 : NAN,
		.rate = med > 0 ? 1e9 / med : NAN,
	};
}

/* ---- figures ---- */

static struct figure *new_figure(const char *section, const char *fmt, va_list ap)
{
	struct figure *f;

	if (nfigures == MAX_FIGURES)
		return NULL;
	f = &figures[nfigures++];
	memset(f, 0, sizeof(*f));
	f->section = section;
	vsnprintf(f->name, sizeof(f->name), fmt, ap);
	return f;
}

struct figure *figure_add(const char *section, enum unit unit, struct measure proxy, const char *fmt, ...)
{
	struct figure *f;
	va_list ap;

	va_start(ap, fmt);
	f = new_figure(section, fmt, ap);
	va_end(ap);
	if (f) {
		f->unit = unit;
		f->proxy = proxy;
	}
	return f;
}

void figure_base(struct figure *f, const char *what, struct measure base)
{
	if (!f || f->nbase == BENCH_MAX_BASES)
		return;
	snprintf(f->base[f->nbase].what, sizeof(f->base[0].what), "%s", what);
	f->base[f->nbase++].m = base;
}

double figure_ratio(const struct figure *f, unsigned int i)
{
	if (!f || i >= f->nbase || !(f->base[i].m.median > 0))
		return NAN;
	return f->proxy.median / f->base[i].m.median;
}

void figure_missing(const char *section, const char *reason, const char *fmt, ...)
{
	struct figure *f;
	va_list ap;

	va_start(ap, fmt);
	f = new_figure(section, fmt, ap);
	va_end(ap);
	nmissing++;
	if (!f)
		return;
	f->missing = true;
	snprintf(f->reason, sizeof(f->reason), "%s", reason);
}

int report_failures(void)
{
	return (int)nmissing;
}

void section_describe(const char *section, const char *title, const char *baseline)
{
	if (nsections < MAX_SECTIONS)
		sections[nsections++] = (struct section){ .id = section, .title = title, .baseline = baseline };
}

void report_note(const char *fmt, ...)
{
	va_list ap;

	if (nnotes == MAX_NOTES)
		return;
	va_start(ap, fmt);
	vsnprintf(notes[nnotes++], sizeof(notes[0]), fmt, ap);
	va_end(ap);
}

void report_target(const char *what, double measured, double limit, bool at_most, const char *unit,
		   const char *limited_by)
{
	struct target *t;

	if (ntargets == MAX_TARGETS)
		return;
	t = &targets[ntargets++];
	snprintf(t->what, sizeof(t->what), "%s", what);
	t->measured = measured;
	t->limit = limit;
	t->at_most = at_most;
	snprintf(t->unit, sizeof(t->unit), "%s", unit);
	snprintf(t->limited_by, sizeof(t->limited_by), "%s", limited_by ? limited_by : "");
}

static bool target_met(const struct target *t)
{
	if (isnan(t->measured))
		return false;
	return t->at_most ? t->measured <= t->limit : t->measured >= t->limit;
}

/* ---- the table ---- */

static const char *unit_name(enum unit u)
{
	switch (u) {
	case UNIT_NS:
		return "us";
	case UNIT_OPS:
		return "ops/s";
	case UNIT_MBS:
		return "MB/s";
	case UNIT_KIB:
		return "KiB";
	case UNIT_MSEC:
		return "ms";
	case UNIT_PCT:
		return "%";
	}
	return "";
}

/* A value in its unit, right-aligned in width; "-" when not a number. */
static void put_value(FILE *out, enum unit u, double v, int width)
{
	char buf[32];

	if (isnan(v) || v < 0) {
		snprintf(buf, sizeof(buf), "-");
	} else {
		switch (u) {
		case UNIT_NS:
			snprintf(buf, sizeof(buf), "%.2f us", v / 1e3);
			break;
		case UNIT_OPS:
			snprintf(buf, sizeof(buf), "%.1f k/s", v / 1e3);
			break;
		case UNIT_MBS:
			snprintf(buf, sizeof(buf), "%.0f MB/s", v);
			break;
		case UNIT_KIB:
			snprintf(buf, sizeof(buf), "%.0f KiB", v);
			break;
		case UNIT_MSEC:
			snprintf(buf, sizeof(buf), "%.2f ms", v);
			break;
		case UNIT_PCT:
			snprintf(buf, sizeof(buf), "%.0f %%", v);
			break;
		}
	}
	fprintf(out, "%*s", width, buf);
}

static void put_rate(FILE *out, double v, int width)
{
	char buf[32];

	if (isnan(v))
		snprintf(buf, sizeof(buf), "-");
	else
		snprintf(buf, sizeof(buf), "%.1fk", v / 1e3);
	fprintf(out, "%*s", width, buf);
}

static void put_measure(FILE *out, enum unit u, const struct measure *m)
{
	put_value(out, u, m->median, 12);
	put_value(out, u, m->p99, 12);
	put_rate(out, m->rate, 9);
}

static void print_table(FILE *out)
{
	fprintf(out, "%-50s %12s %12s %9s   %-34s %12s %12s %9s %7s\n", "figure", "proxy med", "p99", "ops/s",
		"baseline", "med", "p99", "ops/s", "ratio");
	for (unsigned int s = 0; s < nsections; s++) {
		const struct section *sec = &sections[s];

		fprintf(out, "\n== %s\n   baseline: %s\n", sec->title, sec->baseline);
		for (unsigned int i = 0; i < nfigures; i++) {
			const struct figure *f = &figures[i];

			if (f->section != sec->id)
				continue;
			fprintf(out, "%-50s", f->name);
			if (f->missing) {
				fprintf(out, " not measured: %s\n", f->reason);
				continue;
			}
			put_measure(out, f->unit, &f->proxy);
			if (!f->nbase)
				fprintf(out, "\n");
			for (unsigned int b = 0; b < f->nbase; b++) {
				double r = figure_ratio(f, b);

				if (b)
					fprintf(out, "%-50s %12s %12s %9s", "", "", "", "");
				fprintf(out, "   %-34s", f->base[b].what);
				put_measure(out, f->unit, &f->base[b].m);
				if (isnan(r))
					fprintf(out, " %7s\n", "-");
				else
					fprintf(out, " %6.2fx\n", r);
			}
		}
	}
	fprintf(out, "\nratio = proxy median / baseline median (above 1: the proxy is slower for us, faster for MB/s and k/s).\n"
		     "For MB/s rows p99 is the throughput of the 99th-percentile (slow) transfer; ops/s is 1/mean.\n");
	if (nnotes)
		fprintf(out, "\nnotes:\n");
	for (unsigned int i = 0; i < nnotes; i++)
		fprintf(out, "  - %s\n", notes[i]);
	fprintf(out, "\ntargets (reported, not asserted):\n");
	for (unsigned int i = 0; i < ntargets; i++) {
		const struct target *t = &targets[i];

		fprintf(out, "  %-4s %-62s %10.3g %-5s (%s %g)\n", target_met(t) ? "MET" : "NOT", t->what, t->measured,
			t->unit, t->at_most ? "<=" : ">=", t->limit);
		if (!target_met(t) && t->limited_by[0])
			fprintf(out, "       limited by: %s\n", t->limited_by);
	}
}

/* ---- JSON ---- */

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", *s);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static void json_number(FILE *out, double v)
{
	if (isnan(v) || isinf(v))
		fprintf(out, "null");
	else
		fprintf(out, "%.6g", v);
}

/* Latencies go out in ns in JSON, everything else in its unit. */
static void json_measure(FILE *out, const struct measure *m)
{
	fprintf(out, "\"median\": ");
	json_number(out, m->median);
	fprintf(out, ", \"p99\": ");
	json_number(out, m->p99);
	fprintf(out, ", \"ops_per_s\": ");
	json_number(out, m->rate);
}

static void print_json(FILE *out)
{
	fprintf(out, "{\n  \"mode\": \"%s\",\n  \"cpus\": %d,\n  \"sections\": [", opt.short_mode ? "short" : "full",
		bench_cpu_count());
	for (unsigned int s = 0; s < nsections; s++) {
		fprintf(out, "%s\n    {\"id\": ", s ? "," : "");
		json_string(out, sections[s].id);
		fprintf(out, ", \"title\": ");
		json_string(out, sections[s].title);
		fprintf(out, ", \"baseline\": ");
		json_string(out, sections[s].baseline);
		fprintf(out, "}");
	}
	fprintf(out, "\n  ],\n  \"figures\": [");
	for (unsigned int i = 0; i < nfigures; i++) {
		const struct figure *f = &figures[i];

		fprintf(out, "%s\n    {\"section\": ", i ? "," : "");
		json_string(out, f->section);
		fprintf(out, ", \"name\": ");
		json_string(out, f->name);
		if (f->missing) {
			fprintf(out, ", \"missing\": ");
			json_string(out, f->reason);
			fprintf(out, "}");
			continue;
		}
		fprintf(out, ", \"unit\": \"%s\", \"proxy\": {", f->unit == UNIT_NS ? "ns" : unit_name(f->unit));
		json_measure(out, &f->proxy);
		fprintf(out, "}, \"baselines\": [");
		for (unsigned int b = 0; b < f->nbase; b++) {
			fprintf(out, "%s{\"what\": ", b ? ", " : "");
			json_string(out, f->base[b].what);
			fprintf(out, ", ");
			json_measure(out, &f->base[b].m);
			fprintf(out, ", \"ratio\": ");
			json_number(out, figure_ratio(f, b));
			fprintf(out, "}");
		}
		fprintf(out, "]}");
	}
	fprintf(out, "\n  ],\n  \"notes\": [");
	for (unsigned int i = 0; i < nnotes; i++) {
		fprintf(out, "%s\n    ", i ? "," : "");
		json_string(out, notes[i]);
	}
	fprintf(out, "\n  ],\n  \"targets\": [");
	for (unsigned int i = 0; i < ntargets; i++) {
		const struct target *t = &targets[i];

		fprintf(out, "%s\n    {\"what\": ", i ? "," : "");
		json_string(out, t->what);
		fprintf(out, ", \"measured\": ");
		json_number(out, t->measured);
		fprintf(out, ", \"limit\": ");
		json_number(out, t->limit);
		fprintf(out, ", \"condition\": \"%s\", \"unit\": ", t->at_most ? "<=" : ">=");
		json_string(out, t->unit);
		fprintf(out, ", \"met\": %s, \"limited_by\": ", target_met(t) ? "true" : "false");
		json_string(out, target_met(t) ? "" : t->limited_by);
		fprintf(out, "}");
	}
	fprintf(out, "\n  ],\n  \"not_measured\": %u\n}\n", nmissing);
}

void report_print(FILE *out, bool json)
{
	if (json)
		print_json(out);
	else
		print_table(out);
}
