/* What the kernel tells about the processes and the host (/proc). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* utime + stime from a /proc stat file, seconds; 0 when unreadable. */
static double
stat_cpu_s(const char *path)
{
	char buf[1024];
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return 0;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces: fields count from the last ')'. */
	const char *p = strrchr(buf, ')');
	unsigned long long utime = 0, stime = 0;
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	                        &utime, &stime) != 2) {
		return 0;
	}
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* utime + stime of pid in seconds; 0 when it cannot be read. */
double
proc_cpu_s(int pid)
{
	char path[64];
	if (pid <= 0) {
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	return stat_cpu_s(path);
}

/* The same for pid's main thread (its thread id is pid). */
double
thread_cpu_s(int pid)
{
	char path[64];
	if (pid <= 0) {
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, pid);
	return stat_cpu_s(path);
}

/* Busy seconds of the whole host, from /proc/stat: irq and softirq count
 * too, since a process's system time includes the softirqs (loopback
 * delivery) that ran on its behalf. */
double
host_cpu_s(void)
{
	unsigned long long user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
	FILE *f = fopen("/proc/stat", "r");
	if (f == NULL) {
		return 0;
	}
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle, &iowait,
	           &irq, &softirq) != 7) {
		user = nice = sys = irq = softirq = 0;
	}
	fclose(f);
	return (double)(user + nice + sys + irq + softirq) / (double)sysconf(_SC_CLK_TCK);
}

/* A "Vm...:" line of /proc/<pid>/status, in bytes; 0 when unreadable. */
uint64_t
proc_status_bytes(int pid, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	uint64_t kb = 0;
	size_t keylen = strlen(key);
	for (int i = 0; f != NULL && i < 100 && fgets(line, sizeof(line), f) != NULL; i++) {
		if (strncmp(line, key, keylen) == 0 && line[keylen] == ':') {
			kb = strtoull(line + keylen + 1, NULL, 10);
			break;
		}
	}
	if (f != NULL) {
		fclose(f);
	}
	return kb * 1024;
}

/* The open file descriptors of pid: the entries of /proc/<pid>/fd. */
long
proc_fd_count(int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	DIR *d = opendir(path);
	if (d == NULL) {
		return -1;
	}
	long n = 0;
	const struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.') {
			n++;
		}
	}
	closedir(d);
	return n;
}

/*
 * One host-wide counter from /proc/net/snmp or /proc/net/netstat, where a
 * line of names ("Udp: InDatagrams ...") is followed by a line of values.
 */
uint64_t
net_counter(const char *file, const char *prefix, const char *name)
{
	FILE *f = fopen(file, "r");
	char names[4096], values[4096];
	uint64_t result = 0;
	size_t plen = strlen(prefix);
	for (int i = 0; f != NULL && i < 40 && fgets(names, sizeof(names), f) != NULL; i++) {
		if (strncmp(names, prefix, plen) != 0 || fgets(values, sizeof(values), f) == NULL) {
			continue;
		}
		char *sn = NULL, *sv = NULL;
		char *n = strtok_r(names, " \n", &sn);
		char *v = strtok_r(values, " \n", &sv);
		for (int k = 0; n != NULL && v != NULL && k < 200; k++) {
			if (strcmp(n, name) == 0) {
				result = strtoull(v, NULL, 10);
				break;
			}
			n = strtok_r(NULL, " \n", &sn);
			v = strtok_r(NULL, " \n", &sv);
		}
		break;
	}
	if (f != NULL) {
		fclose(f);
	}
	return result;
}
