/* A stand-in for another plugin's ONNX Runtime (tests/windows/test_wine.py): a real DLL, built as
 * onnxruntime.dll and as onnxruntime_providers_shared.dll, that the test host loads before the plugin, the way
 * another plugin would have. It answers OrtGetApiBase with nothing, so a plugin that took it instead of its
 * own could not segment anything. */
#include <stddef.h>

__declspec(dllexport) const void *OrtGetApiBase(void)
{
	return NULL;
}

__declspec(dllexport) const char *VbgDecoy(void)
{
	return "decoy";
}
