/* launch_bench: the host cost of reef_launch and reef_stream_write_u32 called from C, the
 * baseline for the binding's cost (`reef bench ffi` runs both in one process tree).
 *
 * Usage: launch_bench <module.cubin> <rounds> <batch>
 * Prints one JSON object: median microseconds per call over `rounds` batches of `batch` calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reef_gpu.h"

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int compare(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static double median(double* values, int n) {
  qsort(values, n, sizeof *values, compare);
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

static void die(const void* handle, const char* what, reef_status status) {
  char message[1024] = "";
  if (handle) reef_last_error(handle, message, sizeof message);
  fprintf(stderr, "launch_bench: %s failed (status %d): %s\n", what, (int)status, message);
  exit(1);
}

#define CHECK(handle, what, call)                   \
  do {                                              \
    reef_status s_ = (call);                        \
    if (s_ != REEF_OK) die((handle), (what), s_);   \
  } while (0)

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: launch_bench <module.cubin> <rounds> <batch>\n");
    return 2;
  }
  int rounds = atoi(argv[2]), batch = atoi(argv[3]);
  FILE* file = fopen(argv[1], "rb");
  if (!file) {
    perror(argv[1]);
    return 1;
  }
  fseek(file, 0, SEEK_END);
  long size = ftell(file);
  fseek(file, 0, SEEK_SET);
  char* image = malloc(size);
  if (fread(image, 1, size, file) != (size_t)size) return 1;
  fclose(file);

  char message[1024];
  if (reef_init(message, sizeof message) != REEF_OK) {
    fprintf(stderr, "launch_bench: %s\n", message);
    return 1;
  }
  reef_device* device;
  if (reef_device_open(0, message, sizeof message, &device) != REEF_OK) {
    fprintf(stderr, "launch_bench: %s\n", message);
    return 1;
  }
  int32_t least, greatest;
  CHECK(device, "priority range", reef_device_stream_priority_range(device, &least, &greatest));
  reef_module* module;
  CHECK(device, "module load", reef_module_load(device, image, size, &module));
  reef_kernel* kernel;
  CHECK(module, "kernel lookup", reef_kernel_get(module, "empty", &kernel));
  reef_stream *stream, *control;
  CHECK(device, "stream", reef_stream_create(device, least, &stream));
  CHECK(device, "stream", reef_stream_create(device, greatest, &control));
  reef_buffer* flag;
  uint64_t flag_address;
  CHECK(device, "alloc", reef_buffer_alloc(device, 4, &flag));
  CHECK(flag, "address", reef_buffer_address(flag, &flag_address));

  double* launch = malloc(sizeof(double) * rounds);
  double* write = malloc(sizeof(double) * rounds);
  for (int r = -5; r < rounds; r++) { /* 5 warm-up rounds */
    double t0 = now_us();
    for (int i = 0; i < batch; i++)
      CHECK(stream, "launch", reef_launch(stream, kernel, 1, 1, 1, 32, 1, 1, 0, NULL, 0));
    double t1 = now_us();
    CHECK(stream, "sync", reef_stream_synchronize(stream));
    double t2 = now_us();
    for (int i = 0; i < batch; i++)
      CHECK(control, "write", reef_stream_write_u32(control, flag_address, (uint32_t)i));
    double t3 = now_us();
    CHECK(control, "sync", reef_stream_synchronize(control));
    if (r >= 0) {
      launch[r] = (t1 - t0) / batch;
      write[r] = (t3 - t2) / batch;
    }
  }
  printf("{\"launch_us\": %.4f, \"flag_write_us\": %.4f, \"rounds\": %d, \"batch\": %d}\n",
         median(launch, rounds), median(write, rounds), rounds, batch);

  reef_buffer_free(flag);
  reef_stream_destroy(control);
  reef_stream_destroy(stream);
  reef_kernel_release(kernel);
  reef_module_unload(module);
  reef_device_close(device);
  free(image);
  free(launch);
  free(write);
  return 0;
}
