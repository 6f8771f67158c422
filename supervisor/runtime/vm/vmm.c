/* SPDX-License-Identifier: MIT */
#include "vmm.h"

#include "macro.h"

extern const Vmm vmm_qemu;

/* The first is the default. Another VMM is its file and its line here. */
static const Vmm *const vmms[] = {
        &vmm_qemu,
};

const Vmm *vmm_get(const char *name) {
        if (!name)
                return vmms[0];
        for (size_t i = 0; i < ELEMENTSOF(vmms); i++)
                if (streq(vmms[i]->name, name))
                        return vmms[i];
        return NULL;
}
