/* A native NVDEC decode loop: a few C threads drive many decoder sessions and hand Python batches.
 *
 * Why it exists: decoding through PyNvVideoCodec costs ~2.3 ms of host CPU per frame in the GPU pipeline
 * (one Python thread per session, each parked in the driver once per frame, each taking the GIL back),
 * and the H100 host runs out of CPU at ~55 % of the NVDEC ceiling (benchmarks/gpu/README.md). Here one
 * thread serves many sessions round robin without ever blocking on one of them: it feeds a session's
 * parser only while that session has no frame waiting, maps only pictures whose decode has finished
 * (cuvidGetDecodeStatus), copies every mapped frame of a round into its pool slot on one CUDA stream
 * and waits once per round, not once per frame. Python sees only `nvd_wait_ready` (a batch of ready
 * slots) and `nvd_release` (slots back), one call per batch, with the GIL released by ctypes.
 *
 * Input: H.264 / HEVC Annex-B elementary streams held in memory (what an RTSP depayloader or a raw
 * .h264 file gives); NVDEC's own parser finds the pictures. Output: NV12 frames of the pool's size,
 * written into a device buffer of `slots` frames of (height * 3 / 2, width) bytes each (a torch tensor
 * owned by the caller).
 *
 * One failing session (bad bitstream, wrong frame size) is marked failed with its message; the others
 * go on. libcuda and libnvcuvid are opened at run time (ffnvcodec's loader), so this library builds and
 * loads on a machine without them and says so when asked to decode.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ffnvcodec/dynlink_loader.h>

#define FIFO_CAPACITY 16
/* Decode surfaces beyond the stream's minimum. A picture waiting in a session's FIFO keeps its surface
 * only while fewer than this many pictures are decoded after it, so the FIFO may hold no more. */
#define EXTRA_SURFACES 8
#define MESSAGE_BYTES 256
/* Where a decoder thread's time goes (seconds or counts), for tuning: */
enum { ST_ROUNDS, ST_PARSE_CALLS, ST_PARSE_S, ST_STATUS_POLLS, ST_IN_PROGRESS, ST_MAP_S, ST_SYNC_S,
       ST_SLEEPS, ST_ROOM_WAITS, ST_ROOM_WAIT_S, ST_FRAMES, NVD_STATS };

typedef struct {
    int32_t session;
    int32_t slot;
    int64_t index;   /* the session's frame number, from 0 */
    double started;  /* CLOCK_MONOTONIC seconds (= Python's time.perf_counter on Linux) */
    double done;
} nvd_ready_t;

struct nvd_loop;

typedef struct {
    int id;
    struct nvd_loop *loop;
    const uint8_t *data; /* the caller keeps it alive until nvd_destroy */
    size_t size, position;
    const uint64_t *packets; /* optional: access-unit start offsets, packet_count + 1 of them (caller's) */
    int packet_count, next_packet; /* next_packet: the access unit that `position` lies in */
    int whole;                     /* feed whole access units (CUVID_PKT_ENDOFPICTURE) */
    int surfaces, coded_width, coded_height; /* what the decoder was created with */
    int repeat;
    CUvideoparser parser;
    CUvideodecoder decoder;
    int fifo[FIFO_CAPACITY];
    int fifo_head, fifo_count;
    int end_sent, ended, failed;
    int64_t displayed;     /* frames handed out */
    double started;        /* when work on the next frame began */
    double head_since;     /* when the picture at the FIFO's head was first found still decoding */
    double parse_seconds;  /* the parser's time (it submits decodes: waits in the driver show here) */
    uint64_t parse_calls;
    uint64_t decoded;      /* read by nvd_counts without a lock: a monotonically rising counter */
    char message[MESSAGE_BYTES];
} session_t;

typedef struct {
    pthread_t thread;
    struct nvd_loop *loop;
    int index;
    int started;
    double stats[NVD_STATS];
} worker_t;

typedef struct nvd_loop {
    CUcontext context;
    session_t *sessions;
    int session_count, session_capacity;
    worker_t *workers;
    int worker_count;
    CUdeviceptr pool;
    size_t slot_bytes;
    int width, height, slots;
    int codec;
    size_t chunk_bytes;
    int lookahead; /* pictures a session may have decoded or decoding ahead of the one mapped next */
    int poll;      /* 1: map only pictures whose decode finished (cuvidGetDecodeStatus); 0: map and wait */
    int high_priority; /* decoder threads' streams (map + copy out) at the device's greatest priority */
    pthread_mutex_t lock;
    pthread_cond_t room, ready_signal;
    int *free_slots;
    int free_count;
    nvd_ready_t *ready;
    int ready_head, ready_count;
    volatile int stopping;
    char message[MESSAGE_BYTES];
} nvd_loop_t;

static CudaFunctions *cu = NULL;
static CuvidFunctions *cv = NULL;
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread char last_error[MESSAGE_BYTES];

static void say(char *buffer, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(buffer, MESSAGE_BYTES, format, args);
    va_end(args);
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static const char *cuda_error_name(CUresult status) {
    const char *name = NULL;
    if (cu && cu->cuGetErrorName && cu->cuGetErrorName(status, &name) == CUDA_SUCCESS && name) return name;
    return "unknown CUDA error";
}

const char *nvd_last_error(void) { return last_error; }

/* Opens libcuda and libnvcuvid once per process. Returns 0, or -1 with nvd_last_error() set. */
int nvd_load(void) {
    int status = 0;
    pthread_mutex_lock(&load_lock);
    if (!cu && cuda_load_functions(&cu, NULL) != 0) {
        cu = NULL;
        say(last_error, "cannot load the CUDA driver (libcuda.so.1): no NVIDIA driver on this machine?");
        status = -1;
    } else if (!cv && cuvid_load_functions(&cv, NULL) != 0) {
        cv = NULL;
        say(last_error, "cannot load NVDEC (libnvcuvid.so.1): the NVIDIA driver's video decode library is missing");
        status = -1;
    }
    pthread_mutex_unlock(&load_lock);
    return status;
}

static void fail_session(session_t *s, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(s->message, MESSAGE_BYTES, format, args);
    va_end(args);
    __atomic_store_n(&s->failed, 1, __ATOMIC_RELEASE);  /* the message is complete before the flag */
}

/* --- parser callbacks (run inside cuvidParseVideoData, in the session's worker thread) --------------- */
static int CUDAAPI on_sequence(void *user, CUVIDEOFORMAT *format) {
    session_t *s = (session_t *)user;
    nvd_loop_t *loop = s->loop;
    int width = format->display_area.right - format->display_area.left;
    int height = format->display_area.bottom - format->display_area.top;
    int surfaces = format->min_num_decode_surfaces + EXTRA_SURFACES;
    if (s->decoder) {  /* a repeated sequence header (a looping file): same decoder if nothing changed */
        if (width == loop->width && height == loop->height && (int)format->coded_width == s->coded_width &&
            (int)format->coded_height == s->coded_height && surfaces <= s->surfaces)
            return s->surfaces;
        fail_session(s, "the stream's format changed mid-stream (now %dx%d, %d surfaces)", width, height,
                     surfaces);
        return 0;
    }
    if (format->chroma_format != cudaVideoChromaFormat_420 || format->bit_depth_luma_minus8 != 0) {
        fail_session(s, "only 8-bit 4:2:0 video is supported (chroma format %d, bit depth %d)",
                     (int)format->chroma_format, 8 + format->bit_depth_luma_minus8);
        return 0;
    }
    if (width != loop->width || height != loop->height) {
        fail_session(s, "stream is %dx%d but the frame pool holds %dx%d frames", width, height, loop->width,
                     loop->height);
        return 0;
    }
    CUVIDDECODECREATEINFO info;
    memset(&info, 0, sizeof(info));
    info.ulWidth = format->coded_width;
    info.ulHeight = format->coded_height;
    info.ulMaxWidth = format->coded_width;
    info.ulMaxHeight = format->coded_height;
    info.ulNumDecodeSurfaces = surfaces;
    info.CodecType = format->codec;
    info.ChromaFormat = format->chroma_format;
    info.ulCreationFlags = cudaVideoCreate_PreferCUVID;
    info.bitDepthMinus8 = 0;
    info.display_area.left = format->display_area.left;
    info.display_area.top = format->display_area.top;
    info.display_area.right = format->display_area.right;
    info.display_area.bottom = format->display_area.bottom;
    info.OutputFormat = cudaVideoSurfaceFormat_NV12;
    info.DeinterlaceMode = cudaVideoDeinterlaceMode_Weave;
    info.ulTargetWidth = width;
    info.ulTargetHeight = height;
    info.ulNumOutputSurfaces = 2;
    CUresult status = cv->cuvidCreateDecoder(&s->decoder, &info);
    if (status != CUDA_SUCCESS) {
        s->decoder = NULL;
        fail_session(s, "cuvidCreateDecoder failed: %s", cuda_error_name(status));
        return 0;
    }
    s->surfaces = surfaces;
    s->coded_width = (int)format->coded_width;
    s->coded_height = (int)format->coded_height;
    return surfaces;
}

static int CUDAAPI on_decode(void *user, CUVIDPICPARAMS *picture) {
    session_t *s = (session_t *)user;
    if (!s->decoder) return 0;
    CUresult status = cv->cuvidDecodePicture(s->decoder, picture);
    if (status != CUDA_SUCCESS) {
        fail_session(s, "cuvidDecodePicture failed: %s", cuda_error_name(status));
        return 0;
    }
    return 1;
}

static int CUDAAPI on_display(void *user, CUVIDPARSERDISPINFO *display) {
    session_t *s = (session_t *)user;
    if (!display) {  /* end of stream flushed */
        s->ended = 1;
        return 1;
    }
    if (s->fifo_count == EXTRA_SURFACES) {  /* the next decode could overwrite the oldest waiting picture */
        fail_session(s, "more than %d pictures in one parser chunk: lower chunk_bytes", EXTRA_SURFACES);
        return 0;
    }
    s->fifo[(s->fifo_head + s->fifo_count) % FIFO_CAPACITY] = display->picture_index;
    s->fifo_count++;
    return 1;
}

/* The end of the bytes the next parser call may take: `chunk_bytes` at most, and never past the next
 * access-unit boundary when they are known, so one call completes at most one picture (tiny pictures
 * cannot pile up past the FIFO). Whole-picture mode takes exactly the next access unit. */
static size_t next_piece_end(session_t *s, size_t chunk) {
    size_t end = s->position + chunk;
    if (s->packets) {
        while (s->next_packet < s->packet_count && s->packets[s->next_packet + 1] <= s->position)
            s->next_packet++;
        if (s->next_packet < s->packet_count) {
            size_t boundary = s->packets[s->next_packet + 1];
            if (s->whole || boundary < end) end = boundary;
        }
    }
    return end < s->size ? end : s->size;
}

/* Feeds the session's parser until one more picture is ready to display, or `budget` bytes went in. */
static int feed(session_t *s, size_t budget) {
    nvd_loop_t *loop = s->loop;
    size_t fed = 0;
    int waiting = s->fifo_count;
    while (s->fifo_count == waiting && !s->failed && !s->end_sent && fed < budget && !loop->stopping) {
        CUVIDSOURCEDATAPACKET packet;
        memset(&packet, 0, sizeof(packet));
        if (s->position >= s->size) {
            if (!s->decoder) {  /* a whole pass and no sequence header: not H.264 / HEVC Annex-B */
                fail_session(s, "no decodable picture in the whole stream (not %s Annex-B?)",
                             loop->codec == 1 ? "HEVC" : "H.264");
                break;
            }
            if (s->repeat) {
                s->position = 0;  /* an Annex-B stream starts again with its parameter sets: no flush */
                s->next_packet = 0;
            } else {
                /* NOTIFY_EOS: the parser flushes what it holds and calls on_display(NULL) */
                packet.flags = CUVID_PKT_ENDOFSTREAM | CUVID_PKT_NOTIFY_EOS;
                s->end_sent = 1;
            }
        }
        if (!s->end_sent) {
            size_t end = next_piece_end(s, loop->chunk_bytes);
            packet.payload = s->data + s->position;
            packet.payload_size = end - s->position;
            if (s->whole && s->packets) packet.flags = CUVID_PKT_ENDOFPICTURE;  /* decode it now */
            fed += end - s->position;
            s->position = end;
        }
        double before = now_seconds();
        CUresult status = cv->cuvidParseVideoData(s->parser, &packet);
        s->parse_seconds += now_seconds() - before;
        s->parse_calls++;
        if (status != CUDA_SUCCESS && !s->failed) fail_session(s, "cuvidParseVideoData failed: %s",
                                                               cuda_error_name(status));
        if (s->end_sent) s->ended = 1;  /* the end-of-stream call displayed everything left */
    }
    return fed > 0;
}

static int take_slot(nvd_loop_t *loop) {
    int slot = -1;
    pthread_mutex_lock(&loop->lock);
    if (loop->free_count > 0) slot = loop->free_slots[--loop->free_count];
    pthread_mutex_unlock(&loop->lock);
    return slot;
}

static void give_slot(nvd_loop_t *loop, int slot) {
    pthread_mutex_lock(&loop->lock);
    loop->free_slots[loop->free_count++] = slot;
    pthread_cond_broadcast(&loop->room);
    pthread_mutex_unlock(&loop->lock);
}

typedef struct {
    session_t *session;
    int slot, picture;
    CUdeviceptr mapped;
    int64_t index;
    double started;
} staged_t;

/* Maps the session's oldest ready picture (when its decode is done) and queues its copy into `slot`. */
static int stage(nvd_loop_t *loop, session_t *s, CUstream stream, int slot, staged_t *out) {
    int picture = s->fifo[s->fifo_head];
    CUVIDPROCPARAMS params;
    memset(&params, 0, sizeof(params));
    params.progressive_frame = 1;
    params.output_stream = stream;
    CUdeviceptr source = 0;
    unsigned int pitch = 0;
    CUresult status = cv->cuvidMapVideoFrame(s->decoder, picture, &source, &pitch, &params);
    if (status != CUDA_SUCCESS) {
        fail_session(s, "cuvidMapVideoFrame failed: %s", cuda_error_name(status));
        return 0;
    }
    CUdeviceptr target = loop->pool + (CUdeviceptr)slot * loop->slot_bytes;
    CUDA_MEMCPY2D copy;
    memset(&copy, 0, sizeof(copy));
    copy.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    copy.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    copy.srcDevice = source;
    copy.srcPitch = pitch;
    copy.dstDevice = target;
    copy.dstPitch = loop->width;
    copy.WidthInBytes = loop->width;
    copy.Height = loop->height;  /* luma */
    status = cu->cuMemcpy2DAsync(&copy, stream);
    if (status == CUDA_SUCCESS) {  /* chroma: NVDEC puts it after the luma rows, height aligned to 2 */
        copy.srcDevice = source + (CUdeviceptr)pitch * ((loop->height + 1) & ~1);
        copy.dstDevice = target + (CUdeviceptr)loop->width * loop->height;
        copy.Height = loop->height / 2;
        status = cu->cuMemcpy2DAsync(&copy, stream);
    }
    if (status != CUDA_SUCCESS) {
        cu->cuStreamSynchronize(stream);  /* a luma copy may still read the surface or write the slot */
        cv->cuvidUnmapVideoFrame(s->decoder, source);
        fail_session(s, "copying a frame into the pool failed: %s", cuda_error_name(status));
        return 0;
    }
    s->fifo_head = (s->fifo_head + 1) % FIFO_CAPACITY;
    s->fifo_count--;
    out->session = s;
    out->slot = slot;
    out->picture = picture;
    out->mapped = source;
    out->index = s->displayed++;
    out->started = s->started;
    s->started = now_seconds();
    return 1;
}

static int decode_finished(session_t *s, double *stats) {
    if (!s->loop->poll) return 1;
    stats[ST_STATUS_POLLS]++;
    CUVIDGETDECODESTATUS state;
    memset(&state, 0, sizeof(state));
    if (cv->cuvidGetDecodeStatus(s->decoder, s->fifo[s->fifo_head], &state) != CUDA_SUCCESS) {
        return 1;  /* no status for this codec or driver: mapping waits for the decode itself */
    }
    if (state.decodeStatus == cuvidDecodeStatus_InProgress) {
        /* a picture "decoding" for over 20 ms is mapped anyway (the map waits for it): a status that
         * never turns must not starve the camera */
        double now = now_seconds();
        if (s->head_since == 0.0) s->head_since = now;
        if (now - s->head_since < 0.020) {
            stats[ST_IN_PROGRESS]++;
            return 0;
        }
    }
    s->head_since = 0.0;
    return 1;
}

/* ffnvcodec's loader has no prioritised streams: both symbols are looked up in the driver it opened. */
typedef CUresult CUDAAPI stream_with_priority_t(CUstream *stream, unsigned int flags, int priority);
typedef CUresult CUDAAPI priority_range_t(int *least, int *greatest);

static CUresult create_stream(nvd_loop_t *loop, CUstream *stream) {
    if (!loop->high_priority) return cu->cuStreamCreate(stream, CU_STREAM_NON_BLOCKING);
    stream_with_priority_t *create = (stream_with_priority_t *)dlsym(cu->lib, "cuStreamCreateWithPriority");
    priority_range_t *range = (priority_range_t *)dlsym(cu->lib, "cuCtxGetStreamPriorityRange");
    int least = 0, greatest = 0;
    if (!create || !range) return CUDA_ERROR_UNKNOWN;  /* a driver too old for priorities */
    CUresult status = range(&least, &greatest);
    if (status != CUDA_SUCCESS) return status;
    return create(stream, CU_STREAM_NON_BLOCKING, greatest);
}

static void *worker_main(void *argument) {
    worker_t *worker = (worker_t *)argument;
    nvd_loop_t *loop = worker->loop;
    CUstream stream = NULL;
    CUresult status = cu->cuCtxPushCurrent(loop->context);
    if (status == CUDA_SUCCESS) status = create_stream(loop, &stream);
    if (status != CUDA_SUCCESS) {
        for (int i = worker->index; i < loop->session_count; i += loop->worker_count)
            fail_session(&loop->sessions[i], "decoder thread has no CUDA context or stream: %s", cuda_error_name(status));
        return NULL;
    }
    int mine = 0;
    for (int i = worker->index; i < loop->session_count; i += loop->worker_count) mine++;
    staged_t *staged = calloc(mine > 0 ? mine : 1, sizeof(staged_t));
    double start = now_seconds();
    for (int i = worker->index; i < loop->session_count; i += loop->worker_count) loop->sessions[i].started = start;
    int turn = 0;
    while (!loop->stopping) {
        int count = 0, progressed = 0, waiting_for_room = 0, alive = 0;
        for (int k = 0; k < mine; k++) {
            int position = (turn + k) % mine;
            session_t *s = &loop->sessions[worker->index + position * loop->worker_count];
            if (s->failed || (s->ended && s->fifo_count == 0)) continue;
            alive++;
            if (s->fifo_count < loop->lookahead) progressed |= feed(s, 4 * loop->chunk_bytes);
            if (s->failed || s->fifo_count == 0) continue;
            if (!decode_finished(s, worker->stats)) continue;
            int slot = take_slot(loop);
            if (slot < 0) {
                waiting_for_room = 1;
                break;
            }
            double before = now_seconds();
            int staged_ok = stage(loop, s, stream, slot, &staged[count]);
            worker->stats[ST_MAP_S] += now_seconds() - before;
            if (staged_ok) {
                count++;
            } else {
                give_slot(loop, slot);
            }
        }
        turn++;
        worker->stats[ST_ROUNDS]++;
        if (count > 0) {
            /* one wait for the whole round's copies, then the surfaces go back to their decoders */
            double before = now_seconds();
            status = cu->cuStreamSynchronize(stream);
            double done = now_seconds();
            worker->stats[ST_SYNC_S] += done - before;
            worker->stats[ST_FRAMES] += count;
            for (int i = 0; i < count; i++) cv->cuvidUnmapVideoFrame(staged[i].session->decoder, staged[i].mapped);
            pthread_mutex_lock(&loop->lock);
            for (int i = 0; i < count; i++) {
                if (status != CUDA_SUCCESS) {
                    fail_session(staged[i].session, "frame copy failed: %s", cuda_error_name(status));
                    loop->free_slots[loop->free_count++] = staged[i].slot;
                    continue;
                }
                nvd_ready_t *entry = &loop->ready[(loop->ready_head + loop->ready_count) % loop->slots];
                entry->session = staged[i].session->id;
                entry->slot = staged[i].slot;
                entry->index = staged[i].index;
                entry->started = staged[i].started;
                entry->done = done;
                loop->ready_count++;
                __atomic_add_fetch(&staged[i].session->decoded, 1, __ATOMIC_RELAXED);
            }
            pthread_cond_broadcast(&loop->ready_signal);
            pthread_mutex_unlock(&loop->lock);
            continue;
        }
        if (!alive) break;
        if (waiting_for_room) {
            double before = now_seconds();
            worker->stats[ST_ROOM_WAITS]++;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 50 * 1000000L;
            if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
            pthread_mutex_lock(&loop->lock);
            while (loop->free_count == 0 && !loop->stopping) {
                if (pthread_cond_timedwait(&loop->room, &loop->lock, &until) == ETIMEDOUT) break;
            }
            pthread_mutex_unlock(&loop->lock);
            worker->stats[ST_ROOM_WAIT_S] += now_seconds() - before;
        } else if (!progressed) {
            worker->stats[ST_SLEEPS]++;
            usleep(200);  /* every picture still decoding: NVDEC takes ~1 ms a 1080p frame */
        }
    }
    free(staged);
    cu->cuStreamSynchronize(stream);
    cu->cuStreamDestroy(stream);
    CUcontext popped;
    cu->cuCtxPopCurrent(&popped);
    return NULL;
}

/* --- the API Python calls ------------------------------------------------------------------------------ */
void *nvd_create(uint64_t context, int codec, int threads, uint64_t pool, int slots, int width, int height,
                 int chunk_bytes, int capacity) {
    if (nvd_load() != 0) return NULL;
    if (threads < 1 || slots < 1 || width < 2 || height < 2 || capacity < 1 || chunk_bytes < 256 ||
        (codec != 0 && codec != 1) || !pool || !context) {
        say(last_error, "invalid arguments (threads %d, slots %d, %dx%d, chunk %d, sessions %d, codec %d)",
            threads, slots, width, height, chunk_bytes, capacity, codec);
        return NULL;
    }
    nvd_loop_t *loop = calloc(1, sizeof(nvd_loop_t));
    if (!loop) {
        say(last_error, "out of host memory");
        return NULL;
    }
    loop->context = (CUcontext)(uintptr_t)context;
    loop->codec = codec;
    loop->worker_count = threads;
    loop->pool = (CUdeviceptr)pool;
    loop->slots = slots;
    loop->width = width;
    loop->height = height;
    loop->slot_bytes = (size_t)width * (size_t)(height * 3 / 2);
    loop->chunk_bytes = (size_t)chunk_bytes;
    loop->lookahead = 1;
    loop->poll = 1;
    loop->session_capacity = capacity;
    loop->sessions = calloc(capacity, sizeof(session_t));
    loop->workers = calloc(threads, sizeof(worker_t));
    loop->free_slots = malloc(sizeof(int) * slots);
    loop->ready = calloc(slots, sizeof(nvd_ready_t));
    if (!loop->sessions || !loop->workers || !loop->free_slots || !loop->ready) {
        free(loop->sessions);
        free(loop->workers);
        free(loop->free_slots);
        free(loop->ready);
        free(loop);
        say(last_error, "out of host memory");
        return NULL;
    }
    for (int i = 0; i < slots; i++) loop->free_slots[i] = slots - 1 - i;
    loop->free_count = slots;
    pthread_mutex_init(&loop->lock, NULL);
    pthread_cond_init(&loop->room, NULL);
    pthread_cond_init(&loop->ready_signal, NULL);
    return loop;
}

/* Adds a session over `size` bytes of Annex-B video at `data` (kept alive by the caller). Returns its id. */
int nvd_add_session(void *handle, const uint8_t *data, uint64_t size, int repeat) {
    nvd_loop_t *loop = (nvd_loop_t *)handle;
    if (loop->session_count == loop->session_capacity) {
        say(last_error, "all %d sessions already added", loop->session_capacity);
        return -1;
    }
    if (!data || size == 0) {
        say(last_error, "session %d: empty video stream", loop->session_count);
        return -1;
    }
    session_t *s = &loop->sessions[loop->session_count];
    memset(s, 0, sizeof(*s));
    s->id = loop->session_count;
    s->loop = loop;
    s->data = data;
    s->size = (size_t)size;
    s->repeat = repeat;
    CUVIDPARSERPARAMS params;
    memset(&params, 0, sizeof(params));
    params.CodecType = loop->codec == 1 ? cudaVideoCodec_HEVC : cudaVideoCodec_H264;
    params.ulMaxNumDecodeSurfaces = 1;  /* raised by on_sequence's return value */
    params.ulMaxDisplayDelay = 0;       /* a picture is displayable as soon as it is decoded */
    params.pUserData = s;
    params.pfnSequenceCallback = on_sequence;
    params.pfnDecodePicture = on_decode;
    params.pfnDisplayPicture = on_display;
    CUresult status = cv->cuvidCreateVideoParser(&s->parser, &params);
    if (status != CUDA_SUCCESS) {
        say(last_error, "cuvidCreateVideoParser failed: %s", cuda_error_name(status));
        return -1;
    }
    return loop->session_count++;
}

/* The access units of `session`'s data: offsets[0..count] are their start offsets, the last one its end
 * (the caller keeps the array alive). whole = 1: the parser gets one access unit per call, marked as a
 * whole picture; 0: chunk_bytes pieces cut at these boundaries. Without them: chunk_bytes pieces. */
int nvd_set_packets(void *handle, int session, const uint64_t *offsets, int count, int whole) {
    nvd_loop_t *loop = (nvd_loop_t *)handle;
    if (session < 0 || session >= loop->session_count || count < 1 || offsets[count] > loop->sessions[session].size) {
        say(last_error, "invalid packets for session %d (%d packets)", session, count);
        return -1;
    }
    loop->sessions[session].packets = offsets;
    loop->sessions[session].packet_count = count;
    loop->sessions[session].whole = whole != 0;
    return 0;
}

/* 1 (default): a session's next picture is fed only once its last one was mapped; 2-4: decode ahead. */
int nvd_set_lookahead(void *handle, int pictures) {
    nvd_loop_t *loop = (nvd_loop_t *)handle;
    if (pictures < 1 || pictures > EXTRA_SURFACES / 2) {
        say(last_error, "lookahead must be 1 to %d pictures, got %d", EXTRA_SURFACES / 2, pictures);
        return -1;
    }
    loop->lookahead = pictures;
    return 0;
}

/* 1: the decoder threads map and copy frames on streams of the device's greatest priority, so under
 * inference load their work (and the decode surfaces it frees) is scheduled ahead of queued kernels. */
void nvd_set_priority(void *handle, int high) { ((nvd_loop_t *)handle)->high_priority = high != 0; }

/* 1 (default): poll each picture's decode status and map only finished ones; 0: map at once (waits). */
void nvd_set_poll(void *handle, int poll) { ((nvd_loop_t *)handle)->poll = poll != 0; }

int nvd_start(void *handle) {
    nvd_loop_t *loop = (nvd_loop_t *)handle;
    for (int i = 0; i < loop->worker_count; i++) {
        worker_t *worker = &loop->workers[i];
        worker->loop = loop;
        worker->index = i;
        if (pthread_create(&worker->thread, NULL, worker_main, worker) != 0) {
            say(last_error, "cannot start decoder thread %d", i);
            loop->stopping = 1;
            return -1;
        }
        worker->started = 1;
    }
    return 0;
}

/* Waits up to `first_timeout` s for a ready frame, then up to `fill_wait` s more for `max` of them.
 * Returns how many entries it wrote to `out` (0: none in time). */
int nvd_wait_ready(void *handle, nvd_ready_t *out, int max, double first_timeout, double fill_wait) {
    nvd_loop_t *loop = (nvd_loop_t *)handle;
    struct timespec until;
    pthread_mutex_lock(&loop->lock);
    clock_gettime(CLOCK_REALTIME, &until);
    double deadline = (double)until.tv_sec + until.tv_nsec * 1e-9 + first_timeout;
    for (int phase = 0; phase < 2; phase++) {
        until.tv_sec = (time_t)deadline;
        until.tv_nsec = (long)((deadline - (double)until.tv_sec) * 1e9);
        while (!loop->stopping && (phase == 0 ? loop->ready_count == 0 : loop->ready_count < max)) {
            if (pthread_cond_timedwait(&loop->ready_signal, &loop->lock, &until) == ETIMEDOUT) break;
        }
        if (loop->ready_count == 0 || fill_wait <= 0) break;
        if (phase == 0) {
            clock_gettime(CLOCK_REALTIME, &until);
            deadline = (double)until.tv_sec + until.tv_nsec * 1e-9 + fill_wait;
        }
    }
    int n = loop->ready_count < max ? loop->ready_count : max;
    for (int i = 0; i < n; i++) {
        out[i] = loop->ready[loop->ready_head];
        loop->ready_head = (loop->ready_head + 1) % loop->slots;
    }
    loop->ready_count -= n;
    pthread_mutex_unlock(&loop->lock);
    return n;
}

void nvd_release(void *handle, const int32_t *slots, int n) {
    nvd_loop_t *loop = (nvd_loop_t *)handle;
    pthread_mutex_lock(&loop->lock);
    for (int i = 0; i < n; i++) {  /* a slot out of range, or more slots than exist, is not ours: dropped */
        if (slots[i] < 0 || slots[i] >= loop->slots || loop->free_count >= loop->slots) continue;
        loop->free_slots[loop->free_count++] = slots[i];
    }
    pthread_cond_broadcast(&loop->room);
    pthread_mutex_unlock(&loop->lock);
}

/* Per session: frames handed out so far, and 1 where it failed (its message via nvd_session_message). */
void nvd_counts(void *handle, uint64_t *decoded, int32_t *failed, int32_t *ended) {
    nvd_loop_t *loop = (nvd_loop_t *)handle;
    for (int i = 0; i < loop->session_count; i++) {
        session_t *s = &loop->sessions[i];
        decoded[i] = __atomic_load_n(&s->decoded, __ATOMIC_RELAXED);
        failed[i] = __atomic_load_n(&s->failed, __ATOMIC_ACQUIRE);
        ended[i] = s->ended && s->fifo_count == 0;
    }
}

const char *nvd_session_message(void *handle, int session) {
    nvd_loop_t *loop = (nvd_loop_t *)handle;
    if (session < 0 || session >= loop->session_count) return "";
    return loop->sessions[session].message;
}

/* The decoder threads' counters so far (racy reads of doubles: good enough for tuning figures):
 * rounds, parse calls, parse seconds, status polls, polls in progress, map+copy seconds, sync seconds,
 * sleeps, waits for room, seconds waiting for room, frames. Writes NVD_STATS values; returns NVD_STATS. */
int nvd_stats(void *handle, double *out, int n) {
    nvd_loop_t *loop = (nvd_loop_t *)handle;
    for (int k = 0; k < n && k < NVD_STATS; k++) {
        out[k] = 0.0;
        for (int i = 0; i < loop->worker_count; i++) out[k] += loop->workers[i].stats[k];
    }
    if (n > ST_PARSE_S) {
        double parse = 0.0, calls = 0.0;
        for (int i = 0; i < loop->session_count; i++) {
            parse += loop->sessions[i].parse_seconds;
            calls += (double)loop->sessions[i].parse_calls;
        }
        out[ST_PARSE_CALLS] = calls;
        out[ST_PARSE_S] = parse;
    }
    return NVD_STATS;
}

/* CPU seconds used by the decoder threads so far (their own clocks). */
double nvd_cpu_seconds(void *handle) {
    nvd_loop_t *loop = (nvd_loop_t *)handle;
    double total = 0.0;
    for (int i = 0; i < loop->worker_count; i++) {
        clockid_t clock;
        struct timespec t;
        if (!loop->workers[i].started) continue;
        if (pthread_getcpuclockid(loop->workers[i].thread, &clock) == 0 && clock_gettime(clock, &t) == 0)
            total += (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
    }
    return total;
}

void nvd_stop(void *handle) {
    nvd_loop_t *loop = (nvd_loop_t *)handle;
    pthread_mutex_lock(&loop->lock);
    loop->stopping = 1;
    pthread_cond_broadcast(&loop->room);
    pthread_cond_broadcast(&loop->ready_signal);
    pthread_mutex_unlock(&loop->lock);
    for (int i = 0; i < loop->worker_count; i++) {
        if (loop->workers[i].started) pthread_join(loop->workers[i].thread, NULL);
        loop->workers[i].started = 0;
    }
}

void nvd_destroy(void *handle) {
    nvd_loop_t *loop = (nvd_loop_t *)handle;
    if (!loop) return;
    nvd_stop(loop);
    cu->cuCtxPushCurrent(loop->context);
    for (int i = 0; i < loop->session_count; i++) {
        if (loop->sessions[i].parser) cv->cuvidDestroyVideoParser(loop->sessions[i].parser);
        if (loop->sessions[i].decoder) cv->cuvidDestroyDecoder(loop->sessions[i].decoder);
    }
    CUcontext popped;
    cu->cuCtxPopCurrent(&popped);
    pthread_mutex_destroy(&loop->lock);
    pthread_cond_destroy(&loop->room);
    pthread_cond_destroy(&loop->ready_signal);
    free(loop->sessions);
    free(loop->workers);
    free(loop->free_slots);
    free(loop->ready);
    free(loop);
}
