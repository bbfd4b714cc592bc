/* spacesync_gui.engine._fastcopy: the happy path of transfer.stage_file for a small file,
 * in one call (stage_many), and a folder's listing as its digest takes it (list_stats).
 *
 * Copying W1 (100k small files) spent ~9 us of Python per file in stage_file around its
 * dozen system calls; here they run without the interpreter (and without the GIL). This
 * is an accelerator, not a second implementation: on anything irregular (an error, a
 * source that is not the regular file of the size and mtime expected, or that changed
 * while it was read) it removes its temp and returns None, and stage_file then does the
 * same copy its own way, which raises the error with the user's message. Only POSIX; an
 * optional build (setup.py): without a C compiler the Python path does all of it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include "xxhash.h"

/* Larger files stream through the Python path, a chunk at a time: transfer.CHUNK, the
 * same size, for the reason given there (a buffer that stays in the CPU's cache). */
#define MAX_SIZE (256 * 1024)

typedef struct {
    const char *src, *tmp;
    long long size, mtime_ns;
    int want;    /* the permission bits to give (0: none) */
    int at_once; /* create with them (a private staging folder), else 0600 then fchmod */
} Job;

typedef struct {
    XXH128_canonical_t digest;
    struct stat st; /* of the temp */
} Done;

static long long ns_of(struct timespec t) { return (long long)t.tv_sec * 1000000000LL + t.tv_nsec; }

static int write_all(int fd, const char *buf, long long n) {
    for (long long w = 0; w < n;) {
        ssize_t k = write(fd, buf + w, (size_t)(n - w));
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        w += k;
    }
    return 0;
}

/* The copy, as stage_file makes it (same flags, modes and checks, same order): 1 when
 * done, 0 when the Python path must do it (the temp removed, nothing else changed). */
static int stage(const Job *j, Done *out) {
    struct stat st, after;
    int ok = 0;
    char *buf = NULL;
    int fin = open(j->src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fin < 0) return 0;
    if (fstat(fin, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != j->size ||
        ns_of(st.st_mtim) != j->mtime_ns) {
        close(fin);
        return 0;
    }
    /* One byte more than expected: a source that grew is seen at once. */
    buf = malloc((size_t)j->size + 1);
    if (buf == NULL) {
        close(fin);
        return 0;
    }
    int fout = open(j->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    j->at_once ? j->want : 0600);
    if (fout < 0) {
        free(buf);
        close(fin);
        return 0;
    }
    long long total = 0;
    while (total <= j->size) {
        ssize_t n = read(fin, buf + total, (size_t)(j->size + 1 - total));
        if (n < 0) {
            if (errno == EINTR) continue;
            goto done;
        }
        if (n == 0) break;
        total += n;
        if (total == j->size) break; /* as stage_file: the fstat below tells a growth */
    }
    if (total != j->size || write_all(fout, buf, total) != 0) goto done;
    XXH128_canonicalFromHash(&out->digest, XXH3_128bits(buf, (size_t)total));
    if (fstat(fin, &after) != 0 || after.st_size != st.st_size ||
        ns_of(after.st_mtim) != ns_of(st.st_mtim))
        goto done;
    if (j->want && !j->at_once && fchmod(fout, j->want) != 0) goto done;
    struct timespec times[2] = {
        st.st_atim, {(time_t)(j->mtime_ns / 1000000000LL), (long)(j->mtime_ns % 1000000000LL)}};
    if (futimens(fout, times) != 0) goto done; /* last: nothing may write after it */
    if (fstat(fout, &out->st) != 0) goto done;
    if (j->at_once && (int)(out->st.st_mode & 07777) != j->want) {
        /* the umask took bits away (fchmod leaves the mtime be) */
        if (fchmod(fout, j->want) != 0) goto done;
        out->st.st_mode = (out->st.st_mode & ~07777) | j->want;
    }
    ok = 1;
done:
    free(buf);
    close(fin);
    if (close(fout) != 0) ok = 0;
    if (!ok) unlink(j->tmp);
    return ok;
}

/* A job's arguments, (src, tmp, size, mtime_ns, want, at_once); its paths' bytes in
 * *src and *tmp (new references). 0: a job the accelerator leaves alone (too big, odd
 * bits), 1: one to copy, -1: a Python error is set. */
static int parse_job(PyObject *args, Job *j, PyObject **src, PyObject **tmp) {
    *src = *tmp = NULL;
    if (!PyTuple_Check(args)) {
        PyErr_SetString(PyExc_TypeError, "a job is a tuple");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "O&O&LLip", PyUnicode_FSConverter, src, PyUnicode_FSConverter,
                          tmp, &j->size, &j->mtime_ns, &j->want, &j->at_once))
        return -1;
    j->src = PyBytes_AS_STRING(*src);
    j->tmp = PyBytes_AS_STRING(*tmp);
    return j->size >= 0 && j->size <= MAX_SIZE && j->want >= 0 && j->want <= 07777;
}

static PyObject *result(const Done *d) {
    static const char hex[] = "0123456789abcdef";
    char text[32];
    for (int i = 0; i < 16; i++) {
        text[2 * i] = hex[d->digest.digest[i] >> 4];
        text[2 * i + 1] = hex[d->digest.digest[i] & 15];
    }
    return Py_BuildValue("s#KiK", text, (Py_ssize_t)32, (unsigned long long)d->st.st_ino,
                         (int)(d->st.st_mode & 07777), (unsigned long long)d->st.st_dev);
}

/* The jobs of a list in one call, the GIL released for all of them: a worker's chunk of
 * a thousand small files without the interpreter between them (stage_file's one file is
 * a list of one). */
static PyObject *py_stage_many(PyObject *self, PyObject *jobs) {
    (void)self;
    PyObject *seq = PySequence_Fast(jobs, "stage_many takes a list of jobs");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    Job *js = PyMem_Calloc(n ? n : 1, sizeof(Job));
    Done *ds = PyMem_Calloc(n ? n : 1, sizeof(Done));
    PyObject **paths = PyMem_Calloc(2 * (n ? n : 1), sizeof(PyObject *));
    int *oks = PyMem_Calloc(n ? n : 1, sizeof(int));
    PyObject *out = NULL;
    Py_ssize_t i;
    if (js == NULL || ds == NULL || paths == NULL || oks == NULL) {
        PyErr_NoMemory();
        goto end;
    }
    for (i = 0; i < n; i++) {
        oks[i] = parse_job(PySequence_Fast_GET_ITEM(seq, i), &js[i], &paths[2 * i], &paths[2 * i + 1]);
        if (oks[i] < 0) goto end;
    }
    Py_BEGIN_ALLOW_THREADS;
    for (i = 0; i < n; i++)
        if (oks[i]) oks[i] = stage(&js[i], &ds[i]);
    Py_END_ALLOW_THREADS;
    out = PyList_New(n);
    if (out == NULL) goto end;
    for (i = 0; i < n; i++) {
        PyObject *r = oks[i] ? result(&ds[i]) : Py_NewRef(Py_None);
        if (r == NULL) {
            Py_CLEAR(out);
            goto end;
        }
        PyList_SET_ITEM(out, i, r);
    }
end:
    if (paths != NULL)
        for (i = 0; i < 2 * n; i++) Py_XDECREF(paths[i]);
    PyMem_Free(js);
    PyMem_Free(ds);
    PyMem_Free(paths);
    PyMem_Free(oks);
    Py_DECREF(seq);
    return out;
}


/* A folder's items with their lstat, as listing.list_dir lists them (the same open flags,
 * the same order: the folder's own), each (name, mode, size, mtime_ns, inode): what a
 * folder's digest is made of. The walk of a first mirror and the verify of its new
 * folders list every folder once; in Python each item cost a DirEntry and a stat_result
 * (~3 us). Returns (items, whole), whole false when an item vanished between the listing
 * and its lstat, or None when anything else went wrong: listing.list_dir then lists it
 * and tells the error. Built-in ignored names are left to the caller. */
typedef struct {
    size_t name;   /* offset in the names buffer */
    size_t length; /* of the name */
    long long mode, size, mtime_ns;
    unsigned long long ino;
} Item;

static int grow(void **buf, size_t *cap, size_t need, size_t unit) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    void *p = realloc(*buf, n * unit);
    if (p == NULL) return -1;
    *buf = p;
    *cap = n;
    return 0;
}

/* 1: listed, 0: irregular (see above); *vanished counts items gone before their lstat. */
static int list_folder(const char *path, Item **items, size_t *n, char **names, int *vanished) {
    size_t cap = 0, ncap = 0, used = 0;
    int ok = 0;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return 0;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return 0;
    }
    *n = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            ok = errno == 0;
            break;
        }
        const char *nm = de->d_name;
        if (nm[0] == '.' && (nm[1] == 0 || (nm[1] == '.' && nm[2] == 0))) continue;
        struct stat st;
        if (fstatat(fd, nm, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) {
                (*vanished)++;
                continue;
            }
            break;
        }
        size_t len = strlen(nm);
        if (grow((void **)items, &cap, *n + 1, sizeof(Item)) != 0 ||
            grow((void **)names, &ncap, used + len, 1) != 0)
            break;
        memcpy(*names + used, nm, len);
        (*items)[*n] = (Item){used, len, st.st_mode, st.st_size, ns_of(st.st_mtim),
                                (unsigned long long)st.st_ino};
        used += len;
        (*n)++;
    }
    closedir(d); /* closes fd */
    return ok;
}

static PyObject *py_list_stats(PyObject *self, PyObject *arg) {
    (void)self;
    PyObject *path = NULL, *out = NULL, *list = NULL;
    if (!PyUnicode_FSConverter(arg, &path)) return NULL;
    Item *items = NULL;
    char *names = NULL;
    size_t n = 0;
    int vanished = 0, ok;
    const char *p = PyBytes_AS_STRING(path);
    Py_BEGIN_ALLOW_THREADS;
    ok = list_folder(p, &items, &n, &names, &vanished);
    Py_END_ALLOW_THREADS;
    if (!ok) {
        out = Py_NewRef(Py_None);
        goto end;
    }
    list = PyList_New((Py_ssize_t)n);
    if (list == NULL) goto end;
    for (size_t i = 0; i < n; i++) {
        PyObject *name = PyUnicode_DecodeFSDefaultAndSize(names + items[i].name,
                                                          (Py_ssize_t)items[i].length);
        if (name == NULL) goto end;
        PyObject *t = Py_BuildValue("NLLLK", name, items[i].mode, items[i].size,
                                    items[i].mtime_ns, items[i].ino);
        if (t == NULL) goto end;
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    out = Py_BuildValue("OO", list, vanished ? Py_False : Py_True);
end:
    Py_XDECREF(list);
    Py_DECREF(path);
    free(items);
    free(names);
    return out;
}

static PyMethodDef methods[] = {
    {"stage_many", py_stage_many, METH_O,
     "stage_many([(src, tmp, size, mtime_ns, want, at_once), ...]) -> [result, ...], in "
     "order: each small file src copied into its new temp tmp as transfer.stage_file copies "
     "it, its result (xxh3-128 hex, inode, mode, dev), or None (temp removed) when anything "
     "is not as expected."},
    {"list_stats", py_list_stats, METH_O,
     "list_stats(folder) -> ([(name, mode, size, mtime_ns, inode), ...], whole) in the "
     "folder's own order, or None when the listing failed (list it the Python way)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastcopy",
    "transfer.stage_file's happy path for small files; listing.list_flat's listing", -1, methods};

PyMODINIT_FUNC PyInit__fastcopy(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "MAX_SIZE", MAX_SIZE) != 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
