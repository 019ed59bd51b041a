/* A payload drawn as a QR symbol: libqrencode lays out the modules, libpng or a few lines of
 * SVG draw them. Error correction level M: 15 % of the symbol may be lost.
 *
 * The payload's bytes go in as they are, with no ECI designator naming UTF-8, as the schemes'
 * own generators do: payment apps read EMV payloads as UTF-8 anyway, and an ECI header is one
 * more thing an old scanner at a till could trip on. General-purpose readers may guess another
 * character set for non-ASCII text (zbar takes some Vietnamese for Shift-JIS). */
#include <png.h>
#include <qrencode.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"

#define SYMBOL_WIDTH_MAX 177 /* modules across a version 40 symbol */
#define IMAGE_SIDE_MAX ((SYMBOL_WIDTH_MAX + 2 * MOPAY_QR_MARGIN_MAX) * MOPAY_QR_SCALE_MAX)
#define BUFFER_START_BYTES 4096

/* The growing output image, capped at MOPAY_QR_IMAGE_BYTES_MAX. */
struct image {
    unsigned char *data;
    size_t len, cap;
};

static bool image_append(struct image *im, const void *bytes, size_t n)
{
    if (n > MOPAY_QR_IMAGE_BYTES_MAX - im->len)
        return false;
    if (im->len + n > im->cap) {
        size_t cap = im->cap > 0 ? im->cap : BUFFER_START_BYTES;
        while (cap < im->len + n) /* at most log2(MOPAY_QR_IMAGE_BYTES_MAX) rounds */
            cap *= 2;
        if (cap > MOPAY_QR_IMAGE_BYTES_MAX)
            cap = MOPAY_QR_IMAGE_BYTES_MAX;
        unsigned char *data = realloc(im->data, cap);
        if (data == NULL)
            return false;
        im->data = data;
        im->cap = cap;
    }
    memcpy(im->data + im->len, bytes, n);
    im->len += n;
    return true;
}

/* Lays out the symbol. The payload is copied to add the NUL libqrencode reads up to. */
static enum mopay_err symbol_encode(const char *payload, size_t len, QRcode **out)
{
    MOPAY_ASSERT(payload != NULL || len == 0);
    if (len == 0 || len > MOPAY_QR_PAYLOAD_BYTES_MAX || memchr(payload, '\0', len) != NULL)
        return MOPAY_ERR_invalid_qr_format;
    char text[MOPAY_QR_PAYLOAD_BYTES_MAX + 1];
    memcpy(text, payload, len);
    text[len] = '\0';
    /* Case-sensitive, with numeric and alphanumeric runs in their denser modes. A version 40
     * symbol at level M holds 2,331 bytes, so only memory can fail. */
    QRcode *code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (code == NULL)
        return MOPAY_ERR_internal;
    MOPAY_ASSERT(code->width > 0 && code->width <= SYMBOL_WIDTH_MAX);
    *out = code;
    return MOPAY_OK;
}

/* True when module (x, y) of the image, quiet zone included, is dark. */
static bool module_dark(const QRcode *code, unsigned margin, size_t x, size_t y)
{
    size_t width = (size_t)code->width;
    if (x < margin || y < margin || x >= margin + width || y >= margin + width)
        return false;
    return code->data[(y - margin) * width + (x - margin)] & 1; /* bit 0: dark */
}

static void png_on_error(png_structp png, png_const_charp message)
{
    (void)message; /* the caller answers `internal`; a library does not print */
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp message)
{
    (void)png;
    (void)message;
}

static void png_on_write(png_structp png, png_bytep bytes, size_t n)
{
    if (!image_append(png_get_io_ptr(png), bytes, n))
        png_error(png, "image too large or out of memory");
}

static void png_on_flush(png_structp png)
{
    (void)png;
}

/* Writes the image, one bit per pixel, 0 black; libpng longjmps out on failure. */
static void png_draw(png_structp png, png_infop info, const QRcode *code, unsigned scale, unsigned margin)
{
    size_t modules = (size_t)code->width + 2 * margin, side = modules * scale;
    MOPAY_ASSERT(side <= IMAGE_SIDE_MAX);
    png_byte row[(IMAGE_SIDE_MAX + 7) / 8];
    png_set_IHDR(png, info, (png_uint_32)side, (png_uint_32)side, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (size_t y = 0; y < side; y++) {
        memset(row, 0, (side + 7) / 8);
        for (size_t x = 0; x < side; x++)
            if (!module_dark(code, margin, x / scale, y / scale))
                row[x / 8] |= (png_byte)(0x80 >> (x % 8));
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
}

/* Holds the setjmp libpng's errors return to, and no variable that changes after it. */
static bool png_encode(const QRcode *code, unsigned scale, unsigned margin, struct image *im)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_on_error, png_on_warning);
    if (png == NULL)
        return false;
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return false;
    }
    png_set_write_fn(png, im, png_on_write, png_on_flush);
    png_draw(png, info, code, scale, margin);
    png_destroy_write_struct(&png, &info);
    return true;
}

enum mopay_err mopay_qr_render_png(const char *payload, size_t len, unsigned scale, unsigned margin,
                                   unsigned char **out, size_t *out_len)
{
    MOPAY_ASSERT(scale >= 1 && scale <= MOPAY_QR_SCALE_MAX && margin <= MOPAY_QR_MARGIN_MAX);
    MOPAY_ASSERT(out != NULL && out_len != NULL);
    QRcode *code;
    enum mopay_err err = symbol_encode(payload, len, &code);
    if (err != MOPAY_OK)
        return err;
    struct image im = {0};
    bool ok = png_encode(code, scale, margin, &im);
    QRcode_free(code);
    if (!ok) {
        free(im.data);
        return MOPAY_ERR_internal;
    }
    *out = im.data;
    *out_len = im.len;
    return MOPAY_OK;
}

/* printf into the image; false when it does not fit. Every piece of SVG here is short. */
__attribute__((format(printf, 2, 3))) static bool svg_printf(struct image *im, const char *format, ...)
{
    char piece[256];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(piece, sizeof(piece), format, args);
    va_end(args);
    MOPAY_ASSERT(n >= 0 && (size_t)n < sizeof(piece));
    return image_append(im, piece, (size_t)n);
}

/* One path for all dark modules, each horizontal run of them one rectangle: "M4 4h7v1h-7z". */
static bool svg_draw(struct image *im, const QRcode *code, unsigned scale, unsigned margin)
{
    size_t modules = (size_t)code->width + 2 * margin, pixels = modules * scale;
    bool ok = svg_printf(im,
                         "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%zu\" height=\"%zu\" "
                         "viewBox=\"0 0 %zu %zu\" shape-rendering=\"crispEdges\">\n"
                         "<rect width=\"%zu\" height=\"%zu\" fill=\"#ffffff\"/>\n<path fill=\"#000000\" d=\"",
                         pixels, pixels, modules, modules, modules, modules);
    for (size_t y = margin; ok && y < modules - margin; y++) {
        size_t x = margin;
        while (ok && x < modules - margin) { /* each round moves x forward */
            size_t run = 0;
            while (module_dark(code, margin, x + run, y))
                run++;
            if (run > 0)
                ok = svg_printf(im, "M%zu %zuh%zuv1h-%zuz", x, y, run, run);
            x += run > 0 ? run : 1;
        }
    }
    return ok && svg_printf(im, "\"/>\n</svg>\n") && image_append(im, "", 1);
}

enum mopay_err mopay_qr_render_svg(const char *payload, size_t len, unsigned scale, unsigned margin,
                                   char **out, size_t *out_len)
{
    MOPAY_ASSERT(scale >= 1 && scale <= MOPAY_QR_SCALE_MAX && margin <= MOPAY_QR_MARGIN_MAX);
    MOPAY_ASSERT(out != NULL && out_len != NULL);
    QRcode *code;
    enum mopay_err err = symbol_encode(payload, len, &code);
    if (err != MOPAY_OK)
        return err;
    struct image im = {0};
    bool ok = svg_draw(&im, code, scale, margin);
    QRcode_free(code);
    if (!ok) {
        free(im.data);
        return MOPAY_ERR_internal;
    }
    *out = (char *)im.data;
    *out_len = im.len - 1; /* the NUL svg_draw ends with */
    return MOPAY_OK;
}
