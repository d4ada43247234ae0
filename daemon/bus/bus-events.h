/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "events.h"

/* The core's events as D-Bus signals: bus_new() hands these to the core. */
extern const ManagerEvents bus_events;
