//! One segmentation model in an ONNX Runtime session: RGBA frame in, person mask out. Pure CPU, no OBS.

use crate::error::Error;
use crate::mask::Mask;
use crate::model::{CatalogEntry, ModelSpec, Normalization};
use crate::preprocess::{fill_tensor, mirror_tensor, RgbaView};
use crate::settings::Device;
use ort::environment::Environment;
use ort::session::builder::SessionBuilder;
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Which model file to load and how to feed it.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSource {
    pub path: PathBuf,
    pub label: String,
    pub normalization: Normalization,
    /// Input size for models whose declared size is dynamic.
    pub input_size: Option<(u32, u32)>,
}

impl ModelSource {
    /// A shipped model, found at `path`.
    pub fn catalog(entry: &CatalogEntry, path: PathBuf) -> ModelSource {
        ModelSource {
            path,
            label: entry.label.to_string(),
            normalization: entry.normalization,
            input_size: entry.input_size,
        }
    }

    /// A user's model: RGB in 0..1 and a fixed input size, as the properties tooltip says.
    pub fn custom(path: PathBuf) -> ModelSource {
        let label = path.file_name().map_or_else(|| "custom model".into(), |n| n.to_string_lossy().into_owned());
        ModelSource { path, label, normalization: Normalization::UNIT, input_size: None }
    }
}

/// Time spent in each step of one `segment` call.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timings {
    pub preprocess: Duration,
    pub inference: Duration,
    pub postprocess: Duration,
}

pub struct Segmenter {
    session: Session,
    spec: ModelSpec,
    tensor: Vec<f32>,
}

impl Segmenter {
    /// Loads a model to run on the CPU. Every failure (missing, empty or corrupt file, unusable shapes) is an
    /// `Error` with the path and the reason.
    pub fn load(environment: &Environment, source: &ModelSource, threads: usize) -> Result<Segmenter, Error> {
        Segmenter::load_on(environment, source, threads, Device::Cpu)
    }

    /// Loads a model to run on `device`. A device that cannot be used (not in this build of ONNX Runtime, no
    /// driver, no GPU, an operator it lacks) is an error of kind `Device`, never a silent CPU session: the
    /// caller decides about falling back.
    pub fn load_on(
        environment: &Environment,
        source: &ModelSource,
        threads: usize,
        device: Device,
    ) -> Result<Segmenter, Error> {
        let path = &source.path;
        check_model_file(path)?;
        let invalid =
            |e: &dyn std::fmt::Display| Error::model(format!("{} is not a usable ONNX model: {e}", path.display()));
        let configure =
            |e: ort::Error<SessionBuilder>| Error::runtime(format!("cannot configure the ONNX Runtime session: {e}"));
        let mut builder = Session::builder(environment)
            .map_err(|e| Error::runtime(format!("cannot create an ONNX Runtime session: {e}")))?
            .with_intra_threads(threads.max(1))
            .map_err(configure)?
            .with_inter_threads(1)
            .map_err(configure)?
            // Spinning threads burn a core while idle between frames; OBS needs that core.
            .with_intra_op_spinning(false)
            .map_err(configure)?;
        if let Some(ep) = execution_provider(device) {
            crate::runtime::load_provider_libraries(device)?;
            // error_on_failure: a provider that cannot register is reported, not skipped in favour of the CPU.
            builder = builder
                .with_execution_providers([ep.error_on_failure()])
                .map_err(|e| Error::device(plain_ort_message(&e.to_string())))?;
        }
        let session = builder.commit_from_file(path).map_err(|e| {
            if device == Device::Cpu {
                invalid(&e)
            } else {
                Error::device(format!("session creation failed: {}", plain_ort_message(&e.to_string())))
            }
        })?;

        let (input, output) = match (session.inputs().first(), session.outputs().first()) {
            (Some(i), Some(o)) => (i, o),
            _ => return Err(invalid(&"it has no input or no output")),
        };
        let float_shape = |t: &ValueType, what: &str| match t {
            ValueType::Tensor { ty: TensorElementType::Float32, shape, .. } => Ok(shape.to_vec()),
            other => Err(invalid(&format!("its {what} is {other:?}, expected a float32 tensor"))),
        };
        let input_shape = float_shape(input.dtype(), "input")?;
        let output_shape = float_shape(output.dtype(), "output")?;
        let spec = ModelSpec::from_shapes(
            &source.label,
            input.name(),
            &input_shape,
            &output_shape,
            source.normalization,
            source.input_size,
        )
        .map_err(|e| Error::model(format!("{}: {e}", path.display())))?;
        let tensor = vec![0.0; spec.input_len()];
        Ok(Segmenter { session, spec, tensor })
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Segments one frame of any size (resized to the model's input when needed).
    pub fn segment(&mut self, frame: RgbaView<'_>) -> Result<Mask, Error> {
        self.segment_timed(frame).map(|(mask, _)| mask)
    }

    pub fn segment_timed(&mut self, frame: RgbaView<'_>) -> Result<(Mask, Timings), Error> {
        let t0 = Instant::now();
        fill_tensor(frame, &self.spec, &mut self.tensor);
        let t1 = Instant::now();
        let (mask, inference) = self.infer()?;
        let postprocess = t1.elapsed().saturating_sub(inference);
        Ok((mask, Timings { preprocess: t1 - t0, inference, postprocess }))
    }

    /// One mask; with `mirror_average`, the mean of the frame's mask and its mirror image's (two inferences,
    /// the second on the same tensor mirrored): a model's left/right biases cancel, at twice the cost.
    pub fn segment_with(&mut self, frame: RgbaView<'_>, mirror_average: bool) -> Result<Mask, Error> {
        let direct = self.segment(frame)?;
        if !mirror_average {
            return Ok(direct);
        }
        mirror_tensor(&self.spec, &mut self.tensor);
        let (mirrored, _) = self.infer()?;
        Ok(direct.averaged_with_mirror_of(&mirrored))
    }

    /// Runs the model on the tensor as last filled: its mask, and the time the run itself took.
    fn infer(&mut self) -> Result<(Mask, Duration), Error> {
        let failed = |e: ort::Error| Error::inference(format!("inference failed: {e}"));
        let input = TensorRef::from_array_view((self.spec.input_shape(), self.tensor.as_slice())).map_err(failed)?;
        let started = Instant::now();
        let outputs = self.session.run(ort::inputs![self.spec.input_name.as_str() => input]).map_err(failed)?;
        let inference = started.elapsed();
        let (_, values) = outputs[0].try_extract_tensor::<f32>().map_err(failed)?;
        let mask = Mask::from_output(values, self.spec.width, self.spec.height, self.spec.output)?;
        Ok((mask, inference))
    }
}

/// ONNX Runtime's message without its source location and status code prefix
/// ("/src/...cc:2043 ... [ONNXRuntimeError] : 1 : FAIL : Failed to load ..." -> "Failed to load ...", and
/// "E:\...\dml_provider_factory.cc:338 onnxruntime::...::Create DXCore is not available ..." -> "DXCore ...").
fn plain_ort_message(message: &str) -> String {
    let rest = match message.find("[ONNXRuntimeError]") {
        Some(i) => message[i..].splitn(4, " : ").nth(3).unwrap_or(&message[i..]),
        None => without_source_location(message),
    };
    rest.trim().trim_end_matches('.').to_string()
}

/// "file.cc:338 function rest" -> "rest"; anything else unchanged.
fn without_source_location(message: &str) -> &str {
    let mut words = message.splitn(3, ' ');
    match (words.next(), words.next(), words.next()) {
        (Some(at), Some(_function), Some(rest)) if is_source_location(at) => rest,
        _ => message,
    }
}

fn is_source_location(word: &str) -> bool {
    word.rsplit_once(':').is_some_and(|(file, line)| {
        [".cc", ".cpp", ".h"].iter().any(|ext| file.ends_with(ext))
            && !line.is_empty()
            && line.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The execution provider for a device other than the CPU.
fn execution_provider(device: Device) -> Option<ort::ep::ExecutionProviderDispatch> {
    Some(match device {
        Device::Cpu => return None,
        Device::Cuda => ort::ep::CUDA::default().build(),
        Device::TensorRt => ort::ep::TensorRT::default().build(),
        Device::Rocm => ort::ep::ROCm::default().build(),
        Device::OpenVino => ort::ep::OpenVINO::default().build(),
        Device::DirectMl => ort::ep::DirectML::default().build(),
        Device::CoreMl => ort::ep::CoreML::default().build(),
    })
}

/// Catches the common file problems before ONNX Runtime does, with plainer messages than it gives.
fn check_model_file(path: &Path) -> Result<(), Error> {
    match std::fs::metadata(path) {
        Err(_) if path.as_os_str().is_empty() => Err(Error::model("no model file chosen")),
        Err(e) => Err(Error::model(format!("cannot read model file {}: {e}", path.display()))),
        Ok(m) if !m.is_file() => Err(Error::model(format!("model path {} is not a file", path.display()))),
        Ok(m) if m.len() == 0 => Err(Error::model(format!("model file {} is empty", path.display()))),
        Ok(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ort_messages_lose_their_source_location() {
        let raw = "/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:2043 onnxruntime::Provider& \
                   onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library x.so \
                   with error: libcublasLt.so.13: cannot open shared object file";
        assert_eq!(
            plain_ort_message(raw),
            "Failed to load library x.so with error: libcublasLt.so.13: cannot open shared object file"
        );
        assert_eq!(
            plain_ort_message("CUDA execution provider is not enabled in this build."),
            "CUDA execution provider is not enabled in this build"
        );
        let windows = "E:\\_work\\1\\s\\onnxruntime\\core\\providers\\dml\\dml_provider_factory.cc:338 \
                       onnxruntime::DMLProviderFactoryCreator::CreateFromDeviceOptions DXCore is not available on this \
                       platform. This is expected on older versions of Windows";
        assert_eq!(
            plain_ort_message(windows),
            "DXCore is not available on this platform. This is expected on older versions of Windows"
        );
        assert_eq!(plain_ort_message("a.cc:x is not a location"), "a.cc:x is not a location");
    }

    #[test]
    fn file_problems_are_named() {
        assert!(check_model_file(Path::new("")).unwrap_err().message.contains("no model file"));
        let missing = check_model_file(Path::new("/nonexistent/model.onnx")).unwrap_err();
        assert!(missing.message.contains("/nonexistent/model.onnx"));
        assert!(check_model_file(Path::new("/")).unwrap_err().message.contains("not a file"));
        let empty = std::env::temp_dir().join(format!("vbg-empty-{}.onnx", std::process::id()));
        std::fs::write(&empty, b"").unwrap();
        assert!(check_model_file(&empty).unwrap_err().message.contains("empty"));
        std::fs::remove_file(empty).unwrap();
    }
}
