/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark helper: writes a synthetic IMA log of N ima-ng entries (binary or ASCII) with
 * realistic paths and correct template hashes, and prints the PCR 10 values it replays to
 * (SHA-1 bank, SHA-256 bank) so a run can be checked against an independent computation.
 *
 *   gen-ima-log [--ascii] N OUTPUT
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

static const char *const dirs[] = {
        "/usr/bin",
        "/usr/sbin",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/systemd",
        "/usr/libexec",
        "/usr/lib/python3/dist-packages/cryptography/hazmat/bindings",
        "/usr/share/locale/en_GB/LC_MESSAGES",
        "/etc/systemd/system/multi-user.target.wants",
        "/usr/lib/modules/6.1.0-18-amd64/kernel/drivers/net",
        "/var/lib/dpkg/info",
        "/opt/app/node_modules/.bin",
        "/usr/local/lib/python3.11/site-packages",
};
static const char *const stems[] = {
        "libsystemd-shared",    "libcrypto",       "python3.11", "bash",       "sshd",
        "containerd-shim-runc", "ld-linux-x86-64", "libc",       "kubelet",    "coreutils",
        "virtio_net",           "nginx",           "libssl",     "cryptsetup",
};
static const char *const exts[] = {".so.3", ".so.6", "", ".ko", ".py", ".conf", ".service", ".mo", ".list"};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t next_rand(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (uint32_t)(rng >> 11);
}

static void put32(uint8_t *p, uint32_t v)
{
        memcpy(p, &v, 4); /* host order, as the kernel writes it (little-endian here) */
}

static void digest(const EVP_MD *md, const void *a, size_t na, const void *b, size_t nb, uint8_t *out)
{
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        unsigned int len;

        if (!c || !EVP_DigestInit_ex(c, md, NULL) || !EVP_DigestUpdate(c, a, na) ||
            (b && !EVP_DigestUpdate(c, b, nb)) || !EVP_DigestFinal_ex(c, out, &len)) {
                fprintf(stderr, "gen-ima-log: OpenSSL failure\n");
                exit(1);
        }
        EVP_MD_CTX_free(c);
}

static void hex(FILE *f, const uint8_t *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%02x", p[i]);
}

int main(int argc, char *argv[])
{
        const EVP_MD *sha1 = EVP_sha1(), *sha256 = EVP_sha256();
        uint8_t pcr1[20] = {0}, pcr256[32] = {0}, th[20], t256[32];
        bool ascii = false;
        unsigned long n;
        FILE *f;
        int a = 1;

        if (argc > 1 && strcmp(argv[1], "--ascii") == 0) {
                ascii = true;
                a++;
        }
        if (argc - a != 2) {
                fprintf(stderr, "usage: gen-ima-log [--ascii] N OUTPUT\n");
                return 2;
        }
        n = strtoul(argv[a], NULL, 10);
        f = fopen(argv[a + 1], "w");
        if (!f) {
                perror(argv[a + 1]);
                return 1;
        }
        setvbuf(f, NULL, _IOFBF, 1 << 20);
        for (unsigned long i = 0; i < n; i++) {
                uint8_t td[4096], fd[32], name_hdr[4];
                char path[512];
                size_t dl, pl, tl = 0;

                if (i == 0)
                        snprintf(path, sizeof(path), "boot_aggregate");
                else
                        snprintf(path, sizeof(path), "%s/%s-%u%s", dirs[next_rand() % 12],
                                 stems[next_rand() % 14], next_rand() % 1000, exts[next_rand() % 9]);
                for (size_t j = 0; j < sizeof(fd); j++)
                        fd[j] = (uint8_t)next_rand();
                /* d-ng: "sha256:" NUL digest; n-ng: path NUL; each with a u32 length */
                dl = 8 + sizeof(fd);
                put32(td + tl, (uint32_t)dl);
                memcpy(td + tl + 4, "sha256:", 8);
                memcpy(td + tl + 12, fd, sizeof(fd));
                tl += 4 + dl;
                pl = strlen(path) + 1;
                put32(td + tl, (uint32_t)pl);
                memcpy(td + tl + 4, path, pl);
                tl += 4 + pl;

                digest(sha1, td, tl, NULL, 0, th);
                digest(sha256, td, tl, NULL, 0, t256);
                digest(sha1, pcr1, 20, th, 20, pcr1);
                digest(sha256, pcr256, 32, t256, 32, pcr256);

                if (ascii) {
                        fputs("10 ", f);
                        hex(f, th, 20);
                        fputs(" ima-ng sha256:", f);
                        hex(f, fd, sizeof(fd));
                        fprintf(f, " %s\n", path);
                } else {
                        uint32_t pcr = 10, nl = 6, len = (uint32_t)tl;

                        put32(name_hdr, pcr);
                        fwrite(name_hdr, 4, 1, f);
                        fwrite(th, 20, 1, f);
                        put32(name_hdr, nl);
                        fwrite(name_hdr, 4, 1, f);
                        fwrite("ima-ng", 6, 1, f);
                        put32(name_hdr, len);
                        fwrite(name_hdr, 4, 1, f);
                        fwrite(td, tl, 1, f);
                }
        }
        if (fclose(f) != 0) {
                perror(argv[a + 1]);
                return 1;
        }
        hex(stdout, pcr1, 20);
        putchar(' ');
        hex(stdout, pcr256, 32);
        putchar('\n');
        return 0;
}
