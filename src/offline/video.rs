//! Video files through an `ffmpeg` subprocess: raw RGBA frames in and out over pipes, audio carried over.

use crate::error::Error;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

#[derive(Clone, Debug, PartialEq)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    /// Average frame rate as ffmpeg states it, e.g. "30000/1001" (frames are kept 1:1, never duplicated).
    pub rate: String,
    /// Frame count when the container states it.
    pub frames: Option<u64>,
    pub has_audio: bool,
}

impl VideoInfo {
    /// Frames per second (30 when the stated rate does not parse).
    pub fn frame_rate(&self) -> f64 {
        let (n, d) = self.rate.split_once('/').unwrap_or((&self.rate, "1"));
        match (n.trim().parse::<f64>(), d.trim().parse::<f64>()) {
            (Ok(n), Ok(d)) if n > 0.0 && d > 0.0 => n / d,
            _ => 30.0,
        }
    }
}

fn tool_error(tool: &str, e: std::io::Error) -> Error {
    Error::install(format!("cannot run {tool} ({e}); install it with: apt-get install ffmpeg"))
}

pub fn probe(path: &Path) -> Result<VideoInfo, Error> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height,avg_frame_rate,nb_frames",
        ])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(path)
        .output()
        .map_err(|e| tool_error("ffprobe", e))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(Error::image(format!("cannot read video {}: {}", path.display(), why.trim())));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |k: &str| text.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).map(str::trim);
    let number = |k: &str| field(k).and_then(|v| v.parse::<u32>().ok());
    let (Some(width), Some(height)) = (number("width"), number("height")) else {
        return Err(Error::image(format!("{} has no video stream", path.display())));
    };
    let audio = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a", "-show_entries", "stream=index", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .map_err(|e| tool_error("ffprobe", e))?;
    Ok(VideoInfo {
        width,
        height,
        rate: field("avg_frame_rate").filter(|r| !r.starts_with("0/")).unwrap_or("30/1").to_string(),
        frames: field("nb_frames").and_then(|v| v.parse().ok()),
        has_audio: !String::from_utf8_lossy(&audio.stdout).trim().is_empty(),
    })
}

/// Decodes a video's frames as RGBA.
pub struct Decoder {
    child: Child,
    stdout: ChildStdout,
    frame_len: usize,
}

impl Decoder {
    pub fn open(path: &Path, info: &VideoInfo) -> Result<Decoder, Error> {
        let mut child = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i"])
            .arg(path)
            // passthrough: every decoded frame once, none duplicated or dropped to fit a constant rate.
            .args(["-map", "0:v:0", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgba", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| tool_error("ffmpeg", e))?;
        let stdout = child.stdout.take().expect("piped stdout");
        Ok(Decoder { child, stdout, frame_len: info.width as usize * info.height as usize * 4 })
    }

    /// The next frame into `buf`; false at the end of the video.
    pub fn next_frame(&mut self, buf: &mut Vec<u8>) -> Result<bool, Error> {
        buf.resize(self.frame_len, 0);
        match self.stdout.read_exact(buf) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(Error::image(format!("video decoding failed: {e}"))),
        }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A video's frames over and over: at its end it starts again (a moving background under a longer clip).
pub struct LoopingDecoder {
    path: std::path::PathBuf,
    pub info: VideoInfo,
    decoder: Decoder,
}

impl LoopingDecoder {
    pub fn open(path: &Path) -> Result<LoopingDecoder, Error> {
        let info = probe(path)?;
        let decoder = Decoder::open(path, &info)?;
        Ok(LoopingDecoder { path: path.to_path_buf(), info, decoder })
    }

    /// The next frame into `buf`, from the start again after the last one.
    pub fn next_frame(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        if self.decoder.next_frame(buf)? {
            return Ok(());
        }
        self.decoder = Decoder::open(&self.path, &self.info)?;
        if self.decoder.next_frame(buf)? {
            Ok(())
        } else {
            Err(Error::image(format!("{} has no video frames", self.path.display())))
        }
    }
}

/// Encodes RGBA frames into a file whose codec follows its extension, copying the audio of `audio_from`.
pub struct Encoder {
    child: Child,
    stdin: Option<ChildStdin>,
}

/// Codec arguments for an output file, or why it cannot hold what is asked.
pub fn codec_args(out: &Path, alpha: bool) -> Result<Vec<&'static str>, Error> {
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    Ok(match (ext.as_str(), alpha) {
        ("webm", _) => {
            let pixels = if alpha { "yuva420p" } else { "yuv420p" };
            let quality = ["-b:v", "0", "-crf", "30", "-row-mt", "1", "-cpu-used", "4"];
            [&["-c:v", "libvpx-vp9", "-pix_fmt", pixels][..], &quality, &["-c:a", "libopus"]].concat()
        }
        ("mov", true) => {
            vec!["-c:v", "prores_ks", "-profile:v", "4444", "-pix_fmt", "yuva444p10le", "-c:a", "pcm_s16le"]
        }
        ("mp4" | "mkv" | "mov", false) => {
            vec!["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "-preset", "medium", "-c:a", "aac"]
        }
        (_, true) => {
            return Err(Error::image(format!(
                "{} cannot hold transparency: write .webm (VP9) or .mov (ProRes 4444)",
                out.display()
            )))
        }
        _ => {
            return Err(Error::image(format!(
                "unknown video format for {}: use .mp4, .mkv, .mov or .webm",
                out.display()
            )))
        }
    })
}

impl Encoder {
    pub fn create(out: &Path, info: &VideoInfo, audio_from: &Path, alpha: bool) -> Result<Encoder, Error> {
        let codec = codec_args(out, alpha)?;
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgba"]).args([
            "-s",
            &format!("{}x{}", info.width, info.height),
            "-r",
            &info.rate,
            "-i",
            "-",
        ]);
        if info.has_audio {
            cmd.arg("-i").arg(audio_from).args(["-map", "0:v:0", "-map", "1:a?", "-shortest"]);
        }
        cmd.args(&codec).arg(out).stdin(Stdio::piped()).stdout(Stdio::null());
        let mut child = cmd.spawn().map_err(|e| tool_error("ffmpeg", e))?;
        let stdin = child.stdin.take();
        Ok(Encoder { child, stdin })
    }

    pub fn write(&mut self, rgba: &[u8]) -> Result<(), Error> {
        let stdin = self.stdin.as_mut().expect("encoder still open");
        stdin.write_all(rgba).map_err(|e| Error::image(format!("video encoding failed: {e}")))
    }

    pub fn finish(mut self) -> Result<(), Error> {
        drop(self.stdin.take());
        let status = self.child.wait().map_err(|e| Error::image(format!("video encoding failed: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::image(format!("ffmpeg failed to encode the video ({status})")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_follow_the_extension_and_alpha() {
        let webm = codec_args(Path::new("a.webm"), true).unwrap();
        assert!(webm.windows(2).any(|w| w == ["-pix_fmt", "yuva420p"]));
        let opaque = codec_args(Path::new("a.WEBM"), false).unwrap();
        assert!(opaque.windows(2).any(|w| w == ["-pix_fmt", "yuv420p"]));
        assert!(codec_args(Path::new("a.mov"), true).unwrap().contains(&"prores_ks"));
        assert!(codec_args(Path::new("a.mp4"), false).unwrap().contains(&"libx264"));
        assert!(codec_args(Path::new("a.mp4"), true).unwrap_err().message.contains(".webm"));
        assert!(codec_args(Path::new("a.gif"), false).is_err());
    }
}
