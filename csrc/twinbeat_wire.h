/* twinbeat wire codec: the source of truth for constants, error codes and prototypes.
 * Placeholder until the codec issue (#3) fills it in. */
#ifndef TWINBEAT_WIRE_H
#define TWINBEAT_WIRE_H

#define TB_WIRE_VERSION 1

int tb_wire_version(void);

#endif
