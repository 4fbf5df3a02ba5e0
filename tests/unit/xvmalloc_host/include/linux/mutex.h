/* SPDX-License-Identifier: GPL-2.0 */
/* Userspace stand-in: everything lives in kshim.h. */
#include "../kshim.h"
