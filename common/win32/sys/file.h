/* Windows: flock is declared in cds_compat.h. */
#include "cds_compat.h"
