/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>

#include "image-internal.h"

static void elf_endp(Elf **e) {
        if (*e)
                (void)elf_end(*e);
}

/* libelf would read other classes and byte orders too; firmware for STM32 is ELF32 little-endian. */
static int elf_check_ident(const uint8_t *buf, size_t len, const char *name, DfuError *error) {
        if (len < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0)
                return dfu_error_set(error, EINVAL, "%s: not an ELF file (no \\x7fELF magic)", name);
        if (buf[EI_CLASS] == ELFCLASS64)
                return dfu_error_set(
                        error, EINVAL,
                        "%s: offset 4: ELF64 is not supported, expected an ELF32 firmware image", name);
        if (buf[EI_CLASS] != ELFCLASS32)
                return dfu_error_set(error, EINVAL, "%s: offset 4: unknown ELF class %u, expected 1 (ELF32)",
                                     name, buf[EI_CLASS]);
        if (buf[EI_DATA] == ELFDATA2MSB)
                return dfu_error_set(error, EINVAL,
                                     "%s: offset 5: big-endian ELF is not supported, expected little-endian",
                                     name);
        if (buf[EI_DATA] != ELFDATA2LSB)
                return dfu_error_set(error, EINVAL, "%s: offset 5: unknown ELF data encoding %u, expected 1",
                                     name, buf[EI_DATA]);
        return 0;
}

/* "app.elf:.isr_vector,.text": the allocated sections whose file bytes the segment carries. */
static char *elf_segment_source(Elf *e, const GElf_Phdr *ph, size_t index, const char *name) {
        char *s = NULL;
        size_t size = 0, shstrndx;
        FILE *f = open_memstream(&s, &size);
        if (!f)
                return NULL;

        fputs(name, f);
        char sep = ':';
        if (elf_getshdrstrndx(e, &shstrndx) == 0)
                for (Elf_Scn *scn = elf_nextscn(e, NULL); scn; scn = elf_nextscn(e, scn)) {
                        GElf_Shdr sh;
                        if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) ||
                            sh.sh_type == SHT_NOBITS || sh.sh_size == 0)
                                continue;
                        if (sh.sh_offset < ph->p_offset ||
                            sh.sh_offset + sh.sh_size > ph->p_offset + ph->p_filesz)
                                continue;
                        const char *sn = elf_strptr(e, shstrndx, sh.sh_name);
                        fprintf(f, "%c%s", sep, sn && *sn ? sn : "?");
                        sep = ',';
                }
        if (sep == ':')
                fprintf(f, ":segment %zu", index);
        if (fclose(f) != 0)
                return mfree(s);
        return s;
}

static int elf_add_load(Elf *e, const GElf_Phdr *ph, size_t index, const uint8_t *buf, size_t len,
                        Image *image, DfuError *error) {
        const char *name = image->name;

        if (ph->p_offset + ph->p_filesz > len)
                return dfu_error_set(error, EINVAL,
                                     "%s: program header %zu: file data at offset 0x%" PRIX64 "+0x%" PRIX64
                                     " lies beyond the end of the file (%zu bytes)",
                                     name, index, (uint64_t)ph->p_offset, (uint64_t)ph->p_filesz, len);
        if (ph->p_paddr + ph->p_filesz > UINT64_C(1) << 32)
                return dfu_error_set(error, EINVAL,
                                     "%s: program header %zu: 0x%" PRIX64
                                     " bytes at load address 0x%08" PRIX64
                                     " go past the end of the 32-bit address space",
                                     name, index, (uint64_t)ph->p_filesz, (uint64_t)ph->p_paddr);

        _cleanup_free_ char *source = elf_segment_source(e, ph, index, name);
        if (!source)
                return dfu_error_set(error, ENOMEM, "%s: out of memory", name);
        /* p_paddr is the load address: .data's initialiser lives in flash, though it runs from RAM. */
        return image_add_segment(image, (uint32_t)ph->p_paddr, buf + ph->p_offset, (uint32_t)ph->p_filesz,
                                 source, -1, error);
}

int elf_parse(const uint8_t *buf, size_t len, Image *image, DfuError *error) {
        const char *name = image->name;
        size_t phnum;
        int r;

        r = elf_check_ident(buf, len, name, error);
        if (r < 0)
                return r;

        (void)elf_version(EV_CURRENT);
        /* Read-only use: libelf does not write to the buffer for native byte order. */
        _cleanup_(elf_endp) Elf *e = elf_memory((char *)buf, len);
        if (!e)
                return dfu_error_set(error, EINVAL, "%s: cannot read ELF: %s", name, elf_errmsg(-1));
        /* The gelf_ copies, not pointers into buf: a crafted file may put headers at odd offsets. */
        GElf_Ehdr eh;
        if (!gelf_getehdr(e, &eh))
                return dfu_error_set(error, EINVAL, "%s: bad ELF header: %s", name, elf_errmsg(-1));
        if (eh.e_type == ET_REL)
                return dfu_error_set(error, EINVAL,
                                     "%s: a relocatable object file has nothing to load; link it into an "
                                     "executable first",
                                     name);
        if (elf_getphdrnum(e, &phnum) < 0)
                return dfu_error_set(error, EINVAL, "%s: bad program header count: %s", name,
                                     elf_errmsg(-1));
        if (phnum == 0)
                return dfu_error_set(error, EINVAL, "%s: no program headers, nothing to load", name);

        for (size_t i = 0; i < phnum; i++) {
                GElf_Phdr ph;
                if (!gelf_getphdr(e, (int)i, &ph))
                        return dfu_error_set(error, EINVAL,
                                             "%s: bad program header %zu at offset 0x%" PRIX64 ": %s", name,
                                             i, (uint64_t)eh.e_phoff, elf_errmsg(-1));
                /* The zero-filled tail (p_memsz > p_filesz) is the startup code's job, not flash's. */
                if (ph.p_type != PT_LOAD || ph.p_filesz == 0)
                        continue;
                r = elf_add_load(e, &ph, i, buf, len, image, error);
                if (r < 0)
                        return r;
        }

        image->has_entry = true;
        image->entry = (uint32_t)eh.e_entry;
        return 0;
}
