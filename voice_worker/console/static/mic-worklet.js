// The microphone, in the audio thread: each block of samples (the context runs at
// 24 kHz, so the browser resamples the mic for us) goes to the page as Float32.
class MicCapture extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel && channel.length) this.port.postMessage(channel.slice(0));
    return true;
  }
}
registerProcessor("mic-capture", MicCapture);
