/* Windows: see cds_compat.h (winsock2 is included there). */
#include "cds_compat.h"
