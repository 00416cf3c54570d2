/* A minimal OBS host for the Windows tests (scripts/test-windows): OBS's own obs.dll (32.2.2, from PyPI's
 * pylibobs) under Wine, with no frontend. It loads the image source and the plugin the way OBS does
 * (obs_open_module, obs_init_module), puts the plugin's filter on a picture with the given settings, shows it
 * on the output, and saves the output's frames (raw RGBA) after the given delays. The log goes to a file.
 *
 *   vbg-host.exe OBS_DIR PLUGIN_DIR PICTURE WIDTH HEIGHT RENDERER SETTINGS_JSON OUT_PREFIX SECONDS...
 *
 * RENDERER is "opengl" or "d3d11"; SETTINGS "none" shows the picture without the filter, "@ID" with OBS's own
 * filter of that id instead. A PICTURE ending in ".mp4" plays in a Media source (looping) instead of an Image
 * source. OUT_PREFIX-N.rgba is the frame after SECONDS[N], OUT_PREFIX-N.status.json the filter's status then
 * (its GetFilterStatus request), OUT_PREFIX.log the log, OUT_PREFIX.events.txt the vendor events it sent.
 *
 * The status comes through a stand-in for obs-websocket's vendor API (obs-websocket is not in pylibobs): the
 * same proc handlers obs-websocket 5 offers (its lib/obs-websocket-api.h), so the plugin registers its
 * requests exactly as in OBS, and the host calls them as obs-websocket would for CallVendorRequest.
 * VBG_HOST_PRELOAD (paths separated by ';') names DLLs loaded before the plugin, as another plugin would
 * have loaded them.
 *
 * The few libobs declarations below are libobs's C ABI, the same in OBS 29 to 32 (Debian's libobs-dev has no
 * Windows headers). */
#include <windows.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct obs_module obs_module_t;
typedef struct obs_source obs_source_t;
typedef struct obs_data obs_data_t;
typedef struct proc_handler proc_handler_t;
typedef struct calldata {
	uint8_t *stack;
	size_t size, capacity;
	bool fixed;
} calldata_t;

struct obs_video_info {
	const char *graphics_module;
	uint32_t fps_num, fps_den, base_width, base_height, output_width, output_height;
	int output_format; /* enum video_format */
	uint32_t adapter;
	bool gpu_conversion;
	int colorspace, range, scale_type;
};
struct video_scale_info {
	int format;
	uint32_t width, height;
	int range, colorspace;
};
struct video_data {
	uint8_t *data[8];
	uint32_t linesize[8];
	uint64_t timestamp;
};
struct obs_audio_info {
	uint32_t samples_per_sec;
	int speakers; /* enum speaker_layout */
};
enum { VIDEO_FORMAT_RGBA = 6, SPEAKERS_STEREO = 2, OBS_SCALE_BICUBIC = 2, OBS_VIDEO_SUCCESS = 0, MODULE_SUCCESS = 0 };

__declspec(dllimport) bool obs_startup(const char *locale, const char *module_config_path, void *store);
__declspec(dllimport) void obs_shutdown(void);
__declspec(dllimport) void obs_add_data_path(const char *path);
__declspec(dllimport) int obs_reset_video(struct obs_video_info *ovi);
__declspec(dllimport) bool obs_reset_audio(const struct obs_audio_info *oai);
__declspec(dllimport) int obs_open_module(obs_module_t **module, const char *path, const char *data_path);
__declspec(dllimport) bool obs_init_module(obs_module_t *module);
__declspec(dllimport) void obs_post_load_modules(void);
__declspec(dllimport) obs_data_t *obs_data_create_from_json(const char *json);
__declspec(dllimport) void obs_data_release(obs_data_t *data);
__declspec(dllimport) obs_source_t *obs_source_create(const char *id, const char *name, obs_data_t *settings,
						      obs_data_t *hotkey_data);
__declspec(dllimport) void obs_source_filter_add(obs_source_t *source, obs_source_t *filter);
__declspec(dllimport) void obs_source_filter_remove(obs_source_t *source, obs_source_t *filter);
__declspec(dllimport) void obs_source_release(obs_source_t *source);
__declspec(dllimport) void obs_set_output_source(uint32_t channel, obs_source_t *source);
__declspec(dllimport) void obs_add_raw_video_callback(const struct video_scale_info *conversion,
						      void (*callback)(void *param, struct video_data *frame),
						      void *param);
__declspec(dllimport) void obs_remove_raw_video_callback(void (*callback)(void *param, struct video_data *frame),
							 void *param);
__declspec(dllimport) void base_set_log_handler(void (*handler)(int lvl, const char *msg, va_list args, void *p),
						void *param);
__declspec(dllimport) long bnum_allocs(void);
__declspec(dllimport) bool obs_wait_for_destroy_queue(void);
__declspec(dllimport) obs_data_t *obs_data_create(void);
__declspec(dllimport) const char *obs_data_get_json(obs_data_t *data);
__declspec(dllimport) proc_handler_t *obs_get_proc_handler(void);
__declspec(dllimport) proc_handler_t *proc_handler_create(void);
__declspec(dllimport) void proc_handler_destroy(proc_handler_t *handler);
__declspec(dllimport) void proc_handler_add(proc_handler_t *handler, const char *decl,
					    void (*proc)(void *data, calldata_t *cd), void *data);
__declspec(dllimport) bool calldata_get_data(const calldata_t *data, const char *name, void *out, size_t size);
__declspec(dllimport) void calldata_set_data(calldata_t *data, const char *name, const void *in, size_t size);
__declspec(dllimport) bool calldata_get_string(const calldata_t *data, const char *name, const char **str);
typedef void (*obs_task_t)(void *param);
__declspec(dllimport) void obs_set_ui_task_handler(void (*handler)(obs_task_t task, void *param, bool wait));

static FILE *log_file;
static CRITICAL_SECTION frame_lock;
static uint8_t *frame;
static uint32_t width, height;
static long frames_seen;

static void log_handler(int lvl, const char *msg, va_list args, void *param)
{
	(void)param;
	EnterCriticalSection(&frame_lock);
	fprintf(log_file, "%d: ", lvl);
	vfprintf(log_file, msg, args);
	fputc('\n', log_file);
	fflush(log_file);
	LeaveCriticalSection(&frame_lock);
}

/* The UI thread, as OBS's frontend has one: tasks queued for it run on the main thread, in order. */
#define MAX_UI_TASKS 256
static CRITICAL_SECTION ui_lock;
static struct {
	obs_task_t task;
	void *param;
} ui_tasks[MAX_UI_TASKS];
static volatile LONG ui_queued, ui_done;

static void queue_ui_task(obs_task_t task, void *param, bool wait)
{
	EnterCriticalSection(&ui_lock);
	LONG ticket = ui_queued;
	if (ticket - ui_done >= MAX_UI_TASKS) {
		LeaveCriticalSection(&ui_lock);
		task(param); /* never in these tests: the main thread drains the queue every 20 ms */
		return;
	}
	ui_tasks[ticket % MAX_UI_TASKS].task = task;
	ui_tasks[ticket % MAX_UI_TASKS].param = param;
	ui_queued = ticket + 1;
	LeaveCriticalSection(&ui_lock);
	while (wait && ui_done <= ticket)
		Sleep(1);
}

static void run_ui_tasks(void)
{
	for (;;) {
		EnterCriticalSection(&ui_lock);
		if (ui_done == ui_queued) {
			LeaveCriticalSection(&ui_lock);
			return;
		}
		obs_task_t task = ui_tasks[ui_done % MAX_UI_TASKS].task;
		void *param = ui_tasks[ui_done % MAX_UI_TASKS].param;
		LeaveCriticalSection(&ui_lock);
		task(param);
		InterlockedIncrement(&ui_done);
	}
}

static void on_frame(void *param, struct video_data *data)
{
	(void)param;
	EnterCriticalSection(&frame_lock);
	for (uint32_t y = 0; y < height; y++)
		memcpy(frame + (size_t)y * width * 4, data->data[0] + (size_t)y * data->linesize[0], (size_t)width * 4);
	frames_seen++;
	LeaveCriticalSection(&frame_lock);
}

/* libobs-d3d11 calls GDI32's D3DKMTSetProcessSchedulingPriorityClass once at start-up, which Wine does not
 * implement (the process aborts). Point that one import at a stand-in reporting success, before OBS loads the
 * renderer (PLATFORM.md). */
static LONG WINAPI priority_stand_in(HANDLE process, int priority)
{
	(void)process;
	(void)priority;
	return 0;
}

static bool patch_d3d11_import(const char *obs_dir)
{
	char path[MAX_PATH];
	snprintf(path, sizeof(path), "%s\\libobs-d3d11.dll", obs_dir);
	HMODULE module = LoadLibraryA(path);
	if (!module)
		return false;
	BYTE *base = (BYTE *)module;
	IMAGE_NT_HEADERS *nt = (IMAGE_NT_HEADERS *)(base + ((IMAGE_DOS_HEADER *)base)->e_lfanew);
	IMAGE_DATA_DIRECTORY dir = nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_IMPORT];
	for (IMAGE_IMPORT_DESCRIPTOR *imp = (IMAGE_IMPORT_DESCRIPTOR *)(base + dir.VirtualAddress); imp->Name; imp++) {
		IMAGE_THUNK_DATA *names = (IMAGE_THUNK_DATA *)(base + imp->OriginalFirstThunk);
		IMAGE_THUNK_DATA *slots = (IMAGE_THUNK_DATA *)(base + imp->FirstThunk);
		for (; names->u1.AddressOfData; names++, slots++) {
			if (IMAGE_SNAP_BY_ORDINAL(names->u1.Ordinal))
				continue;
			IMAGE_IMPORT_BY_NAME *by_name = (IMAGE_IMPORT_BY_NAME *)(base + names->u1.AddressOfData);
			if (strcmp((const char *)by_name->Name, "D3DKMTSetProcessSchedulingPriorityClass") != 0)
				continue;
			DWORD old;
			VirtualProtect(&slots->u1.Function, sizeof(slots->u1.Function), PAGE_READWRITE, &old);
			slots->u1.Function = (ULONGLONG)(uintptr_t)priority_stand_in;
			VirtualProtect(&slots->u1.Function, sizeof(slots->u1.Function), old, &old);
			return true;
		}
	}
	return true; /* nothing to patch: a newer libobs-d3d11 */
}

/* OUT_PREFIX-INDEX.EXTENSION, opened with `mode`. */
static FILE *open_output(const char *prefix, int index, const char *extension, const char *mode)
{
	char path[MAX_PATH];
	snprintf(path, sizeof(path), "%s-%d.%s", prefix, index, extension);
	return fopen(path, mode);
}

/* ---- a stand-in for obs-websocket's vendor API ---------------------------------------------------------- */

struct request_callback { /* obs-websocket-api.h's struct obs_websocket_request_callback */
	void (*callback)(obs_data_t *request, obs_data_t *response, void *priv_data);
	void *priv_data;
};
#define MAX_REQUESTS 16
static struct {
	char type[64];
	struct request_callback cb;
} requests[MAX_REQUESTS];
static int request_count;
static char vendor_name[64];
static proc_handler_t *websocket_ph;
static FILE *events_file;

static void *cd_ptr(calldata_t *cd, const char *name)
{
	void *p = NULL;
	calldata_get_data(cd, name, &p, sizeof(p));
	return p;
}

static void set_bool(calldata_t *cd, const char *name, bool value)
{
	calldata_set_data(cd, name, &value, sizeof(value));
}

static void api_get_ph(void *data, calldata_t *cd)
{
	(void)data;
	calldata_set_data(cd, "ph", &websocket_ph, sizeof(websocket_ph));
}

static void vendor_register(void *data, calldata_t *cd)
{
	(void)data;
	const char *name = NULL;
	void *vendor = NULL;
	if (calldata_get_string(cd, "name", &name) && name && !vendor_name[0]) {
		snprintf(vendor_name, sizeof(vendor_name), "%s", name);
		vendor = vendor_name;
	}
	calldata_set_data(cd, "vendor", &vendor, sizeof(vendor));
	set_bool(cd, "success", vendor != NULL);
}

static void vendor_request_register(void *data, calldata_t *cd)
{
	(void)data;
	const char *type = NULL;
	struct request_callback *cb = cd_ptr(cd, "callback");
	bool ok = cd_ptr(cd, "vendor") == vendor_name && calldata_get_string(cd, "type", &type) && type && cb &&
		  request_count < MAX_REQUESTS;
	if (ok) {
		snprintf(requests[request_count].type, sizeof(requests[0].type), "%s", type);
		requests[request_count++].cb = *cb; /* copied, as obs-websocket does */
	}
	set_bool(cd, "success", ok);
}

static void vendor_event_emit(void *data, calldata_t *cd)
{
	(void)data;
	const char *type = NULL;
	obs_data_t *event = cd_ptr(cd, "data");
	bool ok = cd_ptr(cd, "vendor") == vendor_name && calldata_get_string(cd, "type", &type) && type;
	if (ok && events_file) {
		EnterCriticalSection(&frame_lock);
		fprintf(events_file, "%s %s\n", type, event ? obs_data_get_json(event) : "{}");
		fflush(events_file);
		LeaveCriticalSection(&frame_lock);
	}
	set_bool(cd, "success", ok);
}

static void offer_websocket_api(void)
{
	websocket_ph = proc_handler_create();
	proc_handler_add(websocket_ph, "bool vendor_register(in string name, out ptr vendor)", vendor_register, NULL);
	proc_handler_add(websocket_ph, "bool vendor_request_register(in ptr vendor, in string type, in ptr callback)",
			 vendor_request_register, NULL);
	proc_handler_add(websocket_ph, "bool vendor_event_emit(in ptr vendor, in string type, in ptr data)",
			 vendor_event_emit, NULL);
	proc_handler_add(obs_get_proc_handler(), "void obs_websocket_api_get_ph(out ptr ph)", api_get_ph, NULL);
}

/* CallVendorRequest, as obs-websocket answers it: the request's callback fills a fresh response object. */
static void save_status(const char *prefix, int index)
{
	FILE *f = open_output(prefix, index, "status.json", "w");
	if (!f)
		return;
	const char *json = "{\"error\": \"GetFilterStatus was never registered\"}";
	obs_data_t *response = obs_data_create();
	for (int i = 0; i < request_count; i++) {
		if (strcmp(requests[i].type, "GetFilterStatus") != 0)
			continue;
		obs_data_t *request =
			obs_data_create_from_json("{\"sourceName\": \"Person\", \"filterName\": \"Virtual Background\"}");
		requests[i].cb.callback(request, response, requests[i].cb.priv_data);
		obs_data_release(request);
		json = obs_data_get_json(response);
	}
	fputs(json, f);
	fclose(f);
	obs_data_release(response);
}

static bool open_module(const char *dll, const char *data)
{
	obs_module_t *module = NULL;
	int r = obs_open_module(&module, dll, data);
	if (r != MODULE_SUCCESS) {
		fprintf(stderr, "host: obs_open_module(%s) failed: %d\n", dll, r);
		return false;
	}
	if (!obs_init_module(module)) {
		fprintf(stderr, "host: obs_init_module(%s) failed\n", dll);
		return false;
	}
	return true;
}

static void save_frame(const char *prefix, int index)
{
	FILE *f = open_output(prefix, index, "rgba", "wb");
	if (!f)
		return;
	EnterCriticalSection(&frame_lock);
	fwrite(frame, 4, (size_t)width * height, f);
	LeaveCriticalSection(&frame_lock);
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc < 10) {
		fprintf(stderr, "usage: vbg-host OBS_DIR PLUGIN_DIR PICTURE W H opengl|d3d11 SETTINGS OUT SECONDS...\n");
		return 2;
	}
	const char *obs_dir = argv[1], *plugin_dir = argv[2], *picture = argv[3], *renderer = argv[6];
	const char *out = argv[8];
	width = (uint32_t)atoi(argv[4]);
	height = (uint32_t)atoi(argv[5]);
	const char *settings = argv[7];
	InitializeCriticalSection(&frame_lock);
	InitializeCriticalSection(&ui_lock);
	frame = calloc((size_t)width * height, 4);
	char path[MAX_PATH], data[MAX_PATH];
	snprintf(path, sizeof(path), "%s.log", out);
	log_file = fopen(path, "w");
	base_set_log_handler(log_handler, NULL);

	bool d3d11 = strcmp(renderer, "d3d11") == 0;
	if (d3d11 && !patch_d3d11_import(obs_dir)) {
		fprintf(stderr, "host: cannot load libobs-d3d11.dll\n");
		return 1;
	}
	if (!obs_startup("en-US", NULL, NULL)) {
		fprintf(stderr, "host: obs_startup failed\n");
		return 1;
	}
	obs_set_ui_task_handler(queue_ui_task);
	snprintf(path, sizeof(path), "%s.events.txt", out);
	events_file = fopen(path, "w");
	offer_websocket_api();
	snprintf(path, sizeof(path), "%s/data/libobs/", obs_dir);
	obs_add_data_path(path);
	struct obs_video_info ovi = {d3d11 ? "libobs-d3d11" : "libobs-opengl", 30, 1, width, height, width, height,
				     VIDEO_FORMAT_RGBA, 0, true, 0, 0, OBS_SCALE_BICUBIC};
	/* Audio too, as OBS always has it: without it libobs's obs_wait_for_destroy_queue returns at once. */
	struct obs_audio_info ai = {48000, SPEAKERS_STEREO};
	if (!obs_reset_audio(&ai)) {
		fprintf(stderr, "host: obs_reset_audio failed\n");
		return 1;
	}
	int r = obs_reset_video(&ovi);
	if (r != OBS_VIDEO_SUCCESS) {
		fprintf(stderr, "host: obs_reset_video(%s) failed: %d\n", ovi.graphics_module, r);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/obs-plugins/image-source.dll", obs_dir);
	snprintf(data, sizeof(data), "%s/data/obs-plugins/image-source", obs_dir);
	if (!open_module(path, data))
		return 1;
	snprintf(path, sizeof(path), "%s/obs-plugins/obs-filters.dll", obs_dir);
	snprintf(data, sizeof(data), "%s/data/obs-plugins/obs-filters", obs_dir);
	if (!open_module(path, data))
		return 1;
	snprintf(path, sizeof(path), "%s/obs-plugins/obs-ffmpeg.dll", obs_dir);
	snprintf(data, sizeof(data), "%s/data/obs-plugins/obs-ffmpeg", obs_dir);
	if (!open_module(path, data))
		return 1;
	/* Another plugin's copies of ONNX Runtime, already in the process before ours loads. */
	const char *preload = getenv("VBG_HOST_PRELOAD");
	if (preload && *preload) {
		char list[4096];
		snprintf(list, sizeof(list), "%s", preload);
		for (char *dll = strtok(list, ";"); dll; dll = strtok(NULL, ";"))
			printf("preloaded %s: %s\n", dll, LoadLibraryA(dll) ? "yes" : "failed");
	}
	snprintf(path, sizeof(path), "%s/bin/64bit/obs-virtual-background.dll", plugin_dir);
	snprintf(data, sizeof(data), "%s/data", plugin_dir);
	if (!open_module(path, data))
		return 1;
	obs_post_load_modules();

	size_t picture_len = strlen(picture);
	bool video = picture_len > 4 && _stricmp(picture + picture_len - 4, ".mp4") == 0;
	char json[MAX_PATH + 96];
	if (video)
		snprintf(json, sizeof(json), "{\"local_file\": \"%s\", \"looping\": true, \"hw_decode\": false}",
			 picture);
	else
		snprintf(json, sizeof(json), "{\"file\": \"%s\"}", picture);
	for (char *c = json; *c; c++)
		if (*c == '\\')
			*c = '/';
	obs_data_t *image_settings = obs_data_create_from_json(json);
	obs_source_t *image =
		obs_source_create(video ? "ffmpeg_source" : "image_source", "Person", image_settings, NULL);
	obs_data_release(image_settings);
	/* "none": the picture without the filter, as OBS shows it (the reference for colours); "@ID": OBS's own
	 * filter of that id at its defaults instead of the plugin's (a baseline). */
	bool with_filter = strcmp(settings, "none") != 0;
	obs_source_t *filter = NULL;
	if (with_filter && settings[0] == '@') {
		filter = obs_source_create(settings + 1, "Baseline filter", NULL, NULL);
	} else if (with_filter) {
		obs_data_t *filter_settings = obs_data_create_from_json(settings);
		filter = obs_source_create("virtual_background_filter", "Virtual Background", filter_settings, NULL);
		obs_data_release(filter_settings);
	}
	if (!image || (with_filter && !filter)) {
		fprintf(stderr, "host: could not create the sources (image %p, filter %p)\n", (void *)image,
			(void *)filter);
		return 1;
	}
	if (filter)
		obs_source_filter_add(image, filter);
	obs_set_output_source(0, image);
	struct video_scale_info conversion = {VIDEO_FORMAT_RGBA, width, height, 0, 0};
	obs_add_raw_video_callback(&conversion, on_frame, NULL);

	DWORD start = GetTickCount();
	for (int i = 9; i < argc; i++) {
		DWORD at = (DWORD)(atof(argv[i]) * 1000.0);
		while (GetTickCount() - start < at) {
			run_ui_tasks();
			Sleep(20);
		}
		save_frame(out, i - 9);
		save_status(out, i - 9);
	}
	printf("frames %ld\n", frames_seen);

	obs_remove_raw_video_callback(on_frame, NULL);
	obs_set_output_source(0, NULL);
	if (filter) {
		obs_source_filter_remove(image, filter);
		obs_source_release(filter);
	}
	obs_source_release(image);
	/* As OBS's frontend does before shutting down: libobs destroys sources on a thread of its own. */
	do {
		run_ui_tasks();
	} while (obs_wait_for_destroy_queue());
	obs_shutdown();
	run_ui_tasks();
	proc_handler_destroy(websocket_ph);
	printf("leaks %ld\n", bnum_allocs());
	fclose(log_file);
	if (events_file)
		fclose(events_file);
	return 0;
}
