/* edu_loop.c: the hand-over loop: the probe's checks round after round in a thread while the host hands the proxy over, the state the device must keep meanwhile, and the longest wait between two trapped BAR0 accesses. */
// SPDX-License-Identifier: GPL-2.0
/*
 * guest/init writes the host's console commands into the device attribute handover_loop:
 *   "start"   fills the RAM BAR with a pattern (each page but its first and last 16 bytes, clear of
 *             bar4_ram's words) and starts the rounds;
 *   "mark"    the host starts handing over: the waits measured from now on are the hand-overs'
 *             figures, those before are the quiet device's;
 *   "stop N"  ends the loop after the check under way (the host handed over N times), checks the
 *             whole pattern and prints the verdicts (PASS/FAIL handover_rounds,
 *             handover_state_kept, handover_no_failure) and the figures (MEASURE).
 * A round: every check of the probe (failures counted, the first few printed), then this round's
 * values into what the device keeps (DMA source, destination and count, liveness, the MSI-X
 * vector register, the 4 KiB DMA buffer), read back for KEEP_MS, then the buffer and a sample of
 * the RAM BAR pattern checked; "LOOP round N done" ends it (the host waits for one after each
 * hand-over). Every trapped BAR0 access (the checks', the interrupt handler's, the read-back's; a
 * write too, as QEMU waits for its answer) notes the time since the one before: the longest such
 * wait is the time the device was unavailable. Reads alone would not do: bar0_dma_buffer and the
 * read-back write 1024 words in a row: 20 ms on a quiet host, up to 180 ms on a busy one.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/device.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>

#include "edu_test.h"

#define KEEP_MS 150		/* per round, reading back what the device keeps */
#define SETTLE_MS 1500		/* QEMU traps the mmapped BARs until 1.1 s after an INTx */
#define GAP_BINS 8192		/* the waits by microsecond; the last bin holds the longer ones */
#define GAP_TOP 32		/* the longest waits kept */
#define PRINT_MAX 10		/* failures printed as they happen, of each kind */
#define PAGE_EDGE 16		/* bytes at either end of a RAM BAR page, left out of the pattern */
#define TICK_EVERY 4		/* RAM BAR reads between two BAR0 reads: the waits stay BAR0's */

struct tally {
	unsigned int count;
	char first[ERR_LEN + 64];
};

struct gap_stats {
	u64 count;
	u64 top_ns[GAP_TOP];	/* longest first */
	const char *top_in[GAP_TOP];	/* what the loop was doing when each ended */
	u32 hist[GAP_BINS];
};

enum { QUIET, HANDOVERS, PHASES };

struct edu_loop {
	struct edu_test *t;
	struct task_struct *task;
	spinlock_t lock;	/* the waits: noted by the thread and by the interrupt handler */
	ktime_t last;		/* the previous trapped BAR0 access */
	const char *doing;	/* the check under way, or "keep" */
	unsigned int phase;
	struct gap_stats gaps[PHASES];
	unsigned int rounds[PHASES];	/* whole rounds */
	struct tally failures;		/* of checks */
	struct tally lost;		/* rounds that found what the device keeps changed */
};

static DEFINE_MUTEX(loop_mutex);	/* the attribute's writers, and the driver's removal */

void edu_loop_note_access(struct edu_test *t)
{
	struct edu_loop *l = t->loop;
	ktime_t now = ktime_get();
	struct gap_stats *g;
	unsigned long flags;
	unsigned int i;
	u64 ns;

	spin_lock_irqsave(&l->lock, flags);
	if (l->last) {
		g = &l->gaps[l->phase];
		ns = ktime_to_ns(ktime_sub(now, l->last));
		g->count++;
		g->hist[min_t(u64, div_u64(ns, NSEC_PER_USEC), GAP_BINS - 1)]++;
		if (ns > g->top_ns[GAP_TOP - 1]) {
			for (i = GAP_TOP - 1; i > 0 && g->top_ns[i - 1] < ns; i--) {
				g->top_ns[i] = g->top_ns[i - 1];
				g->top_in[i] = g->top_in[i - 1];
			}
			g->top_ns[i] = ns;
			g->top_in[i] = l->doing;
		}
	}
	l->last = now;
	spin_unlock_irqrestore(&l->lock, flags);
}

/* ---- what the device keeps ---- */

static u32 bar4_word(u32 off)
{
	return (off | 1) * 2654435761u;	/* odd factor: distinct and non-zero for each word */
}

static bool bar4_in_pattern(u32 off)
{
	u32 in_page = off % PAGE_SIZE;

	return in_page >= PAGE_EDGE && in_page < PAGE_SIZE - PAGE_EDGE;
}

static void bar4_fill(struct edu_test *t)
{
	u32 off;

	for (off = 0; off < EDU_BAR_RAM_SIZE; off += 4)
		if (bar4_in_pattern(off))
			iowrite32(bar4_word(off), t->bar4 + off);
}

/* The pattern: every word (all), or two of each page, placed anew each round. */
static int bar4_check(struct edu_test *t, unsigned int round, bool all, char *err)
{
	const u32 words = (PAGE_SIZE - 2 * PAGE_EDGE) / 4;
	u32 page, k, w, off, v;
	unsigned int n = 0;

	for (page = 0; page < EDU_BAR_RAM_SIZE; page += PAGE_SIZE) {
		for (k = 0; k < words; k += all ? 1 : words / 2) {
			w = (k + round * 131 + page / PAGE_SIZE * 17) % words;
			off = page + PAGE_EDGE + 4 * w;
			v = ioread32(t->bar4 + off);
			if (v != bar4_word(off))
				return edu_fail(err, "RAM BAR at %#x reads %#x, the pattern %#x",
						off, v, bar4_word(off));
			if (++n % TICK_EVERY == 0)
				reg_read(t, EDU_REG_ID);
		}
		cond_resched();
	}
	return 0;
}

static u32 buf_word(unsigned int round, u32 i)
{
	return (0x01010101u * (i % 253) + round * 0x9e3779b9u) ^ 0x6b6f6f70;
}

/* This round's values where the device keeps them, read back for KEEP_MS, then the buffer. */
static int keep_round(struct edu_loop *l, unsigned int round, char *err)
{
	const u64 src = 0x5eed000000000000ull | (u64)round << 12;
	const u64 dst = 0x0000feed00000000ull ^ ((u64)round * 0x9e3779b97f4a7c15ull >> 16);
	const u64 count = round % EDU_DMA_BUF_SIZE + 1;
	const u32 live = round * 0x01000193u, vector = round % EDU_MSIX_VECTORS;
	struct edu_test *t = l->t;
	ktime_t end;
	u64 v;
	u32 i;

	for (i = 0; i < EDU_DMA_BUF_SIZE; i += 4)
		reg_write(t, EDU_DMA_BUF_ADDR + i, buf_word(round, i));
	reg_write64(t, EDU_REG_DMA_SRC, src);
	reg_write64(t, EDU_REG_DMA_DST, dst);
	reg_write64(t, EDU_REG_DMA_COUNT, count);
	reg_write(t, EDU_REG_LIVENESS, live);
	reg_write(t, EDU_REG_IRQ_VECTOR, vector);
	end = ktime_add_ms(ktime_get(), KEEP_MS);
	do {
		v = reg_read64(t, EDU_REG_DMA_SRC);
		if (v != src)
			return edu_fail(err, "DMA source reads %#llx, was %#llx", v, src);
		v = reg_read64(t, EDU_REG_DMA_DST);
		if (v != dst)
			return edu_fail(err, "DMA destination reads %#llx, was %#llx", v, dst);
		v = reg_read64(t, EDU_REG_DMA_COUNT);
		if (v != count)
			return edu_fail(err, "DMA count reads %#llx, was %#llx", v, count);
		v = reg_read(t, EDU_REG_LIVENESS);
		if (v != (u32)~live)
			return edu_fail(err, "liveness reads %#llx, was written %#x", v, live);
		v = reg_read(t, EDU_REG_IRQ_VECTOR);
		if (v != vector)
			return edu_fail(err, "MSI-X vector register reads %llu, was %u", v, vector);
		cond_resched();
	} while (ktime_before(ktime_get(), end) && !kthread_should_stop());
	reg_write(t, EDU_REG_IRQ_VECTOR, 0);	/* as the interrupt checks expect it */
	for (i = 0; i < EDU_DMA_BUF_SIZE; i += 4) {
		v = reg_read(t, EDU_DMA_BUF_ADDR + i);
		if (v != buf_word(round, i))
			return edu_fail(err, "DMA buffer word at %#x reads %#llx, was %#x", i, v,
					buf_word(round, i));
	}
	return bar4_check(t, round, false, err);
}

/* ---- the rounds ---- */

static void tally(struct tally *y, unsigned int round, const char *what, const char *why)
{
	if (!y->count++)
		scnprintf(y->first, sizeof(y->first), "round %u: %s: %s", round, what, why);
	if (y->count <= PRINT_MAX)
		pr_info("LOOP round %u: %s: %s\n", round, what, why);
}

static void loop_checks(struct edu_loop *l, const struct edu_check *c, unsigned int n,
			unsigned int round)
{
	char err[ERR_LEN];
	unsigned int i;

	for (i = 0; i < n && !kthread_should_stop(); i++) {
		err[0] = '\0';
		WRITE_ONCE(l->doing, c[i].name);
		if (c[i].fn(l->t, err))
			tally(&l->failures, round, c[i].name, err[0] ? err : "failed");
	}
}

static int loop_thread(void *data)
{
	struct edu_loop *l = data;
	char err[ERR_LEN];
	unsigned int round;

	for (round = 1; !kthread_should_stop(); round++) {
		loop_checks(l, edu_checks, edu_num_checks, round);
		loop_checks(l, edu_irq_checks, edu_num_irq_checks, round);
		if (kthread_should_stop())
			break;
		WRITE_ONCE(l->doing, "keep");
		if (keep_round(l, round, err))
			tally(&l->lost, round, "state lost", err);
		l->rounds[READ_ONCE(l->phase)]++;
		pr_info("LOOP round %u done\n", round);
	}
	return 0;
}

/* ---- control ---- */

static int loop_start(struct edu_test *t)
{
	struct edu_loop *l;
	char err[ERR_LEN];

	if (t->loop)
		return -EBUSY;
	l = vzalloc(sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->t = t;
	spin_lock_init(&l->lock);
	msleep(SETTLE_MS);	/* after the probe's INTx: the RAM BAR mmapped again */
	bar4_fill(t);
	if (bar4_check(t, 0, true, err))
		tally(&l->lost, 0, "pattern", err);
	t->loop = l;
	WRITE_ONCE(t->timing, true);
	l->task = kthread_run(loop_thread, l, "edu_loop");
	if (IS_ERR(l->task)) {
		int ret = PTR_ERR(l->task);

		WRITE_ONCE(t->timing, false);
		t->loop = NULL;
		vfree(l);
		return ret;
	}
	pr_info("LOOP started: checks round after round\n");
	return 0;
}

/* The median of the waits, or of the n longest (n <= GAP_TOP), in microseconds. */
static u64 gap_median_us(const struct gap_stats *g, unsigned int n)
{
	u64 seen = 0;
	unsigned int i;

	if (n)
		return div_u64(g->top_ns[n / 2], NSEC_PER_USEC);
	for (i = 0; i < GAP_BINS; i++) {
		seen += g->hist[i];
		if (seen > g->count / 2)
			break;
	}
	return i;
}

static void report_gaps(struct edu_loop *l, unsigned int handovers)
{
	const struct gap_stats *q = &l->gaps[QUIET], *h = &l->gaps[HANDOVERS];
	unsigned int n = min_t(unsigned int, handovers, GAP_TOP), i;
	char list[GAP_TOP * 32];
	int len = 0;

	pr_info("MEASURE handover_gap_max %llu us (the longest wait between two trapped BAR0 accesses, %u hand-overs)\n",
		div_u64(h->top_ns[0], NSEC_PER_USEC), handovers);
	if (n) {
		for (i = 0; i < n; i++)
			len += scnprintf(list + len, sizeof(list) - len, " %llu@%s",
					 div_u64(h->top_ns[i], NSEC_PER_USEC), h->top_in[i]);
		pr_info("MEASURE handover_gap_typical %llu us (median of the %u longest waits, one per hand-over)\n",
			gap_median_us(h, n), n);
		pr_info("MEASURE handover_gaps_longest%s us\n", list);
	}
	pr_info("MEASURE handover_gap_median %llu us (of %llu waits while handing over)\n",
		gap_median_us(h, 0), h->count);
	pr_info("MEASURE quiet_gap_max %llu us in %s (the longest wait before the first hand-over; median %llu us of %llu)\n",
		div_u64(q->top_ns[0], NSEC_PER_USEC), q->top_in[0], gap_median_us(q, 0), q->count);
	for (i = 0, len = 0; i < 8; i++)
		len += scnprintf(list + len, sizeof(list) - len, " %llu@%s",
				 div_u64(q->top_ns[i], NSEC_PER_USEC), q->top_in[i]);
	pr_info("MEASURE quiet_gaps_longest%s us\n", list);
}

static void loop_stop(struct edu_test *t, unsigned int handovers, bool report)
{
	struct edu_loop *l = t->loop;
	char err[ERR_LEN];

	kthread_stop(l->task);
	WRITE_ONCE(t->timing, false);
	t->loop = NULL;
	if (report) {
		msleep(SETTLE_MS);	/* the whole pattern, through the mmapped BAR */
		if (bar4_check(t, 0, true, err))
			tally(&l->lost, 0, "pattern at the end", err);
		pr_info("MEASURE handover_rounds %u rounds with %u hand-overs (%u before the first)\n",
			l->rounds[HANDOVERS], handovers, l->rounds[QUIET]);
		if (l->rounds[QUIET] && l->rounds[HANDOVERS] >= max(handovers, 1u))
			pr_info("PASS handover_rounds\n");
		else
			pr_info("FAIL handover_rounds: %u rounds with %u hand-overs, %u before\n",
				l->rounds[HANDOVERS], handovers, l->rounds[QUIET]);
		if (!l->lost.count)
			pr_info("PASS handover_state_kept\n");
		else
			pr_info("FAIL handover_state_kept: %u times; first %s\n", l->lost.count,
				l->lost.first);
		if (!l->failures.count)
			pr_info("PASS handover_no_failure\n");
		else
			pr_info("FAIL handover_no_failure: %u failed checks in %u rounds; first %s\n",
				l->failures.count, l->rounds[QUIET] + l->rounds[HANDOVERS],
				l->failures.first);
		report_gaps(l, handovers);
		pr_info("LOOP DONE rounds=%u failures=%u lost=%u\n",
			l->rounds[QUIET] + l->rounds[HANDOVERS], l->failures.count, l->lost.count);
	}
	vfree(l);
}

static ssize_t handover_loop_store(struct device *dev, struct device_attribute *attr,
				   const char *buf, size_t count)
{
	struct edu_test *t = dev_get_drvdata(dev);
	unsigned int n;
	int ret = 0;

	mutex_lock(&loop_mutex);
	if (sysfs_streq(buf, "start")) {
		ret = loop_start(t);
	} else if (sysfs_streq(buf, "mark") && t->loop) {
		spin_lock_irq(&t->loop->lock);
		t->loop->phase = HANDOVERS;
		spin_unlock_irq(&t->loop->lock);
		pr_info("LOOP hand-overs from now on\n");
	} else if (sscanf(buf, "stop %u", &n) == 1 && t->loop) {
		loop_stop(t, n, true);
	} else {
		ret = -EINVAL;
	}
	mutex_unlock(&loop_mutex);
	return ret ?: count;
}
static DEVICE_ATTR_WO(handover_loop);

void edu_loop_release(struct edu_test *t)
{
	mutex_lock(&loop_mutex);
	if (t->loop)
		loop_stop(t, 0, false);
	mutex_unlock(&loop_mutex);
}

static struct attribute *edu_loop_attrs[] = {
	&dev_attr_handover_loop.attr,
	NULL
};

static const struct attribute_group edu_loop_group = {
	.attrs = edu_loop_attrs,
};

const struct attribute_group *edu_loop_groups[] = {
	&edu_loop_group,
	NULL
};
