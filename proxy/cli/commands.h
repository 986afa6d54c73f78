/* commands.h: the subcommands of the vfio-user-proxy command line. */
#ifndef CLI_COMMANDS_H
#define CLI_COMMANDS_H

/*
 * Exit status of a serving command that stopped because the device may not be served again without the
 * operator (no reset after its client; a departed client still holding it): a supervisor must not restart
 * it (the unit's RestartPreventExitStatus=, watch's give-up).
 */
#define CLI_EXIT_RETIRED 3

/* Each takes the arguments after the subcommand name (argv[0] is the subcommand) and returns an exit code. */
int cmd_emulate(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_bind(int argc, char **argv);
int cmd_unbind(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_bridge(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);

#endif /* CLI_COMMANDS_H */
