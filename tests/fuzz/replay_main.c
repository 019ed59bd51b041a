/* Replays fuzz corpora through a harness without libFuzzer, so the ordinary compiler (and the
 * ASan/UBSan build) can run every harness over every file in its corpus under CTest.
 *
 *   replay_<name> DIR_OR_FILE...
 *
 * Each argument is a corpus folder (every regular file in it, in name order, dotfiles skipped)
 * or a single input file. Each input is handed to LLVMFuzzerTestOneInput in a heap buffer of
 * exactly its size, as libFuzzer does, so reads past the end are caught. A harness reports a
 * broken property by aborting; this program fails on an unreadable argument, an oversized file,
 * or when there was nothing to replay, so a corpus that goes missing does not pass silently. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Larger than any body the server accepts (MOPAY_HTTP_BODY_BULK_BYTES_MAX); corpus files are
 * meant to be small. */
#define REPLAY_INPUT_BYTES_MAX (8 * 1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads `path` into a buffer of exactly its size and runs the harness; false on I/O errors. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 0;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || st.st_size > REPLAY_INPUT_BYTES_MAX) {
        fprintf(stderr, "%s: unreadable or larger than %d bytes\n", path, REPLAY_INPUT_BYTES_MAX);
        fclose(f);
        return 0;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size > 0 ? size : 1);
    int ok = data != NULL && fread(data, 1, size, f) == size;
    fclose(f);
    if (!ok) {
        fprintf(stderr, "%s: read failed\n", path);
        free(data);
        return 0;
    }
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 1;
}

static int is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Replays every regular file in `dir`; adds them to *count; false on the first failure. */
static int replay_dir(const char *dir, size_t *count)
{
    struct dirent **entries;
    int n = scandir(dir, &entries, NULL, alphasort);
    if (n < 0) {
        perror(dir);
        return 0;
    }
    int ok = 1;
    for (int i = 0; i < n; i++) {
        char path[4096];
        const char *name = entries[i]->d_name;
        int len = snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (ok && name[0] != '.' && len > 0 && (size_t)len < sizeof(path) && is_regular_file(path)) {
            ok = replay_file(path);
            *count += (size_t)ok;
        }
        free(entries[i]);
    }
    free(entries);
    return ok;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        int ok = S_ISDIR(st.st_mode) ? replay_dir(argv[i], &count) : replay_file(argv[i]);
        if (!ok)
            return 1;
        count += !S_ISDIR(st.st_mode);
    }
    printf("replayed %zu inputs\n", count);
    if (count == 0) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE... (and at least one input)\n", argv[0]);
        return 1;
    }
    return 0;
}
