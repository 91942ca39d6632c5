/* The Arrow C data interface (arrow.apache.org/docs/format/CDataInterface.html), a
   stable ABI through which Pillow >= 11.2 exports an image's memory. */
#ifndef MSROI_ARROW_H
#define MSROI_ARROW_H

#include <stdint.h>

struct msroi_ArrowArray {
    int64_t length, null_count, offset, n_buffers, n_children;
    const void** buffers;
    struct msroi_ArrowArray** children;
    struct msroi_ArrowArray* dictionary;
    void (*release)(struct msroi_ArrowArray*);
    void* private_data;
};
struct msroi_ArrowSchema {
    const char* format;
    const char* name;
    const char* metadata;
    int64_t flags, n_children;
    struct msroi_ArrowSchema** children;
    struct msroi_ArrowSchema* dictionary;
    void (*release)(struct msroi_ArrowSchema*);
    void* private_data;
};

#endif
