#include "twinbeat_wire.h"

int tb_wire_version(void) { return TB_WIRE_VERSION; }
