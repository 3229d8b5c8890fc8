#include "keys_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "keys.h"
#include "lf/eui.h"

#define EXIT_USAGE 2

static const char keys_usage[] =
        "usage: lorafleet-routerlink keys <command>\n"
        "\n"
        "  show <MAC>           the key's MAC, b58 address and network\n"
        "  list                 every key in the key directory\n"
        "  create <MAC>         make a key if the gateway has none; prints its address\n"
        "  import <MAC> <file>  store a gateway-rs key file (65 bytes) for MAC\n"
        "  export <MAC> <file>  write MAC's key as a gateway-rs key file (mode 0600)\n"
        "  --help               this text\n"
        "\n"
        "MAC: 16 hex digits, any case, optionally separated by ':' or '-'.\n"
        "Existing keys and files are never overwritten.\n";

struct list_ctx {
	const char *dir;
	int failures;
};

static void
print_key(uint64_t eui, const struct gateway_key *k)
{
	char addr[HELIUM_ADDRESS_MAX];
	keys_address(k, addr, sizeof(addr));
	printf("mac:     %016" PRIX64 "\n", eui);
	printf("address: %s\n", addr);
	printf("network: %s (tag 0x%02x, ed25519)\n", keys_network_name(k->tag), k->tag);
}

static int
cmd_show(const char *dir, uint64_t eui, char **args)
{
	struct gateway_key k;
	char err[512];
	if (keys_load(dir, eui, &k, err, sizeof(err)) != 0) {
		fprintf(stderr, "keys show: %s\n", err);
		return 1;
	}
	print_key(eui, &k);
	keys_wipe(&k);
	return 0;
}

static int
list_one(uint64_t eui, void *arg)
{
	struct list_ctx *ctx = arg;
	struct gateway_key k;
	char err[512];
	if (keys_load(ctx->dir, eui, &k, err, sizeof(err)) != 0) {
		/* Reported, and the listing goes on: one bad file must not
		 * hide the others. */
		fprintf(stderr, "keys list: %s\n", err);
		ctx->failures++;
		return 0;
	}
	char addr[HELIUM_ADDRESS_MAX];
	keys_address(&k, addr, sizeof(addr));
	printf("%016" PRIX64 " %s %s\n", eui, addr, keys_network_name(k.tag));
	keys_wipe(&k);
	return 0;
}

static int
cmd_list(const char *dir)
{
	struct list_ctx ctx = {.dir = dir};
	char err[512];
	if (keys_foreach(dir, list_one, &ctx, err, sizeof(err)) != 0) {
		fprintf(stderr, "keys list: %s\n", err);
		return 1;
	}
	return ctx.failures > 0 ? 1 : 0;
}

static int
cmd_create(const char *dir, uint64_t eui, char **args)
{
	char err[512];
	if (keys_dir_prepare(dir, err, sizeof(err)) != 0) {
		fprintf(stderr, "keys create: %s\n", err);
		return 1;
	}
	struct gateway_key k;
	bool created = false;
	if (keys_load_or_create(dir, eui, &k, &created, err, sizeof(err)) != 0) {
		fprintf(stderr, "keys create: %s\n", err);
		return 1;
	}
	char addr[HELIUM_ADDRESS_MAX];
	keys_address(&k, addr, sizeof(addr));
	keys_wipe(&k);
	/* stdout carries only the address, for scripts. */
	fprintf(stderr, "%s key for %016" PRIX64 "\n", created ? "created" : "existing", eui);
	printf("%s\n", addr);
	return 0;
}

static int
cmd_import(const char *dir, uint64_t eui, char **args)
{
	char err[512];
	if (keys_dir_prepare(dir, err, sizeof(err)) != 0 ||
	    keys_import(dir, eui, args[0], err, sizeof(err)) != 0) {
		fprintf(stderr, "keys import: %s\n", err);
		return 1;
	}
	struct gateway_key k;
	if (keys_load(dir, eui, &k, err, sizeof(err)) != 0) {
		fprintf(stderr, "keys import: %s\n", err);
		return 1;
	}
	print_key(eui, &k);
	keys_wipe(&k);
	return 0;
}

static int
cmd_export(const char *dir, uint64_t eui, char **args)
{
	char err[512];
	if (keys_export(dir, eui, args[0], err, sizeof(err)) != 0) {
		fprintf(stderr, "keys export: %s\n", err);
		return 1;
	}
	printf("wrote %s\n", args[0]);
	return 0;
}

struct keys_cmd {
	const char *name;
	int nargs; /* after the MAC */
	int (*fn)(const char *dir, uint64_t eui, char **args);
};

static const struct keys_cmd keys_cmds[] = {
        {"show", 0, cmd_show},
        {"create", 0, cmd_create},
        {"import", 1, cmd_import},
        {"export", 1, cmd_export},
};

static int
usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "keys: %s%s\n%s", what, arg, keys_usage);
	return EXIT_USAGE;
}

int
keys_cli_main(int argc, char **argv, const char *keys_dir)
{
	if (argc < 2) {
		return usage_error("missing command", "");
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
		fputs(keys_usage, stdout);
		return 0;
	}
	if (keys_dir == NULL || keys_dir[0] == '\0') {
		fprintf(stderr, "keys: no key directory configured (keys_dir)\n");
		return 1;
	}
	if (strcmp(name, "list") == 0) {
		return argc == 2 ? cmd_list(keys_dir) : usage_error("list takes no arguments", "");
	}
	for (size_t i = 0; i < sizeof(keys_cmds) / sizeof(keys_cmds[0]); i++) {
		const struct keys_cmd *c = &keys_cmds[i];
		if (strcmp(name, c->name) != 0) {
			continue;
		}
		if (argc != 3 + c->nargs) {
			return usage_error("wrong number of arguments for ", c->name);
		}
		uint64_t eui;
		if (lf_eui_parse(argv[2], &eui) != 0) {
			return usage_error("invalid MAC (16 hex digits expected): ", argv[2]);
		}
		return c->fn(keys_dir, eui, argv + 3);
	}
	return usage_error("unknown command: ", name);
}
