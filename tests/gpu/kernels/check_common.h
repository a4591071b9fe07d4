// check_common.h: host-side pieces of the kernel checks, shared by the GPU checker
// (kernel_check.cu) and the CPU emulator check (tests/kernels/emu/emu_check.cpp):
// the manifest written by generate.ts, fp16 conversions, seeded random inputs, a float64
// reference of every op kind (NHWC semantics of src/kernels/ops.ts) and the output comparison.
// Plain C++17, host only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace check {

// ---------------------------------------------------------------------------------------------
// fp16 <-> fp32 (round to nearest even), bit-exact with the device conversions.

inline uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const int32_t exponent = static_cast<int32_t>((x >> 23) & 0xffu);
  uint32_t mantissa = x & 0x7fffffu;
  if (exponent == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mantissa ? 0x200u : 0u));
  const int32_t e = exponent - 127 + 15;
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);
    mantissa |= 0x800000u;
    const int shift = 14 - e;
    uint32_t h = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = sign | (static_cast<uint32_t>(e) << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry rounds up to infinity
  return static_cast<uint16_t>(h);
}

inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0) {
    const float v = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -v : v;
  } else if (exponent == 31) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// ---------------------------------------------------------------------------------------------
// Manifest

struct Storage {
  std::string name, stype, role;  // role: in (random), out (poisoned, checked), ws (poisoned)
  size_t elements = 0;
  double lo = 0, hi = 0;
  size_t bytes() const { return elements * (stype == "float16" ? 2 : 4); }
};

struct Launch {
  std::string kernel, path;  // path: the template (conv_mma, gemv, ...)
  unsigned grid[3] = {1, 1, 1};
  unsigned block = 1;
  unsigned smem = 0;
  std::vector<std::string> args;
  unsigned blocks() const { return grid[0] * grid[1] * grid[2]; }
};

struct Module {
  std::string name, precision, raw, be, dkp;  // binary paths, relative to the manifest
};

struct Case {
  int index = 0;
  std::string name, module, kind;
  std::map<std::string, std::string> fields;
  std::vector<Storage> storages;
  std::vector<Launch> launches;

  const std::string& field(const std::string& key) const {
    auto it = fields.find(key);
    if (it == fields.end()) throw std::runtime_error("case " + name + ": no field \"" + key + "\"");
    return it->second;
  }
  long integer(const std::string& key) const { return std::stol(field(key)); }
  double real(const std::string& key) const { return std::stod(field(key)); }
  bool flag(const std::string& key) const { return field(key) == "true"; }
  bool present(const std::string& key) const { return field(key) != "-"; }
  const Storage& storage(const std::string& storage_name) const {
    for (const Storage& s : storages) {
      if (s.name == storage_name) return s;
    }
    throw std::runtime_error("case " + name + ": no storage \"" + storage_name + "\"");
  }
};

struct View {
  std::string storage;
  long channels = 0, offset = 0;
};

inline View view_field(const Case& c, const std::string& key) {
  std::stringstream ss(c.field(key));
  View v;
  std::string part;
  std::getline(ss, v.storage, ',');
  std::getline(ss, part, ',');
  v.channels = std::stol(part);
  std::getline(ss, part, ',');
  v.offset = std::stol(part);
  return v;
}

struct Manifest {
  std::string dir;
  std::vector<Module> modules;
  std::vector<Case> cases;

  const Module& module(const std::string& name) const {
    for (const Module& m : modules) {
      if (m.name == name) return m;
    }
    throw std::runtime_error("manifest: no module \"" + name + "\"");
  }
};

inline Manifest read_manifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open manifest \"" + path + "\"");
  Manifest m;
  const size_t slash = path.find_last_of('/');
  m.dir = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string line;
  int number = 0;
  Case* current = nullptr;
  while (std::getline(in, line)) {
    ++number;
    std::stringstream ss(line);
    std::string word;
    if (!(ss >> word) || word[0] == '#') continue;
    auto bad = [&](const std::string& what) {
      return std::runtime_error("manifest \"" + path + "\" line " + std::to_string(number) + ": " +
                                what);
    };
    if (word == "reef-kernel-check") {
      int version = 0;
      ss >> version;
      if (version != 1) throw bad("unsupported version");
    } else if (word == "module") {
      Module mod;
      if (!(ss >> mod.name >> mod.precision >> mod.raw >> mod.be >> mod.dkp)) {
        throw bad("bad module");
      }
      m.modules.push_back(mod);
    } else if (word == "case") {
      m.cases.emplace_back();
      current = &m.cases.back();
      if (!(ss >> current->index >> current->name >> current->module >> current->kind)) {
        throw bad("bad case");
      }
    } else if (current == nullptr) {
      throw bad("\"" + word + "\" outside a case");
    } else if (word == "field") {
      std::string key, value;
      if (!(ss >> key >> value)) throw bad("bad field");
      current->fields[key] = value;
    } else if (word == "storage") {
      Storage s;
      if (!(ss >> s.name >> s.stype >> s.elements >> s.role >> s.lo >> s.hi)) {
        throw bad("bad storage");
      }
      current->storages.push_back(s);
    } else if (word == "launch") {
      Launch l;
      size_t nargs = 0;
      if (!(ss >> l.kernel >> l.path >> l.grid[0] >> l.grid[1] >> l.grid[2] >> l.block >> l.smem >>
            nargs)) {
        throw bad("bad launch");
      }
      l.args.resize(nargs);
      for (std::string& a : l.args) {
        if (!(ss >> a)) throw bad("missing launch argument");
      }
      current->launches.push_back(l);
    } else if (word == "end") {
      current = nullptr;
    } else {
      throw bad("unknown record \"" + word + "\"");
    }
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Host buffers

struct Buffer {
  const Storage* storage = nullptr;
  std::vector<uint8_t> bytes;

  double at(size_t i) const {
    if (storage->stype == "float16") {
      uint16_t h;
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      return half_to_float(h);
    }
    if (storage->stype == "float32") {
      float f;
      std::memcpy(&f, bytes.data() + 4 * i, 4);
      return f;
    }
    int32_t v;
    std::memcpy(&v, bytes.data() + 4 * i, 4);
    return v;
  }
};

using Buffers = std::map<std::string, Buffer>;

// Fresh random contents for inputs (uniform in [lo, hi], rounded to the storage type; integers
// uniform in [lo, hi]); outputs and workspaces are poisoned with 0xFF bytes (NaN in fp16/fp32).
inline Buffers make_buffers(const Case& c, std::mt19937_64& rng) {
  Buffers out;
  for (const Storage& s : c.storages) {
    Buffer b;
    b.storage = &s;
    b.bytes.assign(s.bytes(), 0xFF);
    if (s.role == "in") {
      if (s.stype == "int32") {
        std::uniform_int_distribution<int32_t> dist(static_cast<int32_t>(s.lo),
                                                    static_cast<int32_t>(s.hi));
        for (size_t i = 0; i < s.elements; ++i) {
          const int32_t v = dist(rng);
          std::memcpy(b.bytes.data() + 4 * i, &v, 4);
        }
      } else {
        std::uniform_real_distribution<double> dist(s.lo, s.hi);
        for (size_t i = 0; i < s.elements; ++i) {
          const float v = static_cast<float>(dist(rng));
          if (s.stype == "float16") {
            const uint16_t h = float_to_half(v);
            std::memcpy(b.bytes.data() + 2 * i, &h, 2);
          } else {
            std::memcpy(b.bytes.data() + 4 * i, &v, 4);
          }
        }
      }
    }
    out[s.name] = std::move(b);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// float64 reference. Each op kind yields the expected values of its output window, pixel-major:
// expected[p * width + c] is channel `offset + c` of pixel p of the output buffer.
//
// The references decode every buffer they read into doubles once, and look up the case's fields
// outside their loops: a convolution of VGG-19's size is 1.85 G multiply-adds, and a field lookup
// and a type test per multiply-add kept the GPU check on the CPU for minutes per case.

struct Expected {
  View output;
  long pixels = 0, width = 0;
  std::vector<double> values;
};

// The elements of a buffer as doubles.
inline std::vector<double> decode(const Buffer& b) {
  std::vector<double> v(b.storage->elements);
  for (size_t i = 0; i < v.size(); ++i) v[i] = b.at(i);
  return v;
}

// An activation by name, resolved once.
class Activation {
 public:
  explicit Activation(const std::string& name) : kind_(parse(name)) {}

  double operator()(double v) const {
    switch (kind_) {
      case Kind::kRelu:
        return std::max(v, 0.0);
      case Kind::kRelu6:
        return std::min(std::max(v, 0.0), 6.0);
      case Kind::kGelu:
        return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
      case Kind::kTanh:
        return std::tanh(v);
      case Kind::kNone:
        break;
    }
    return v;
  }

 private:
  enum class Kind { kNone, kRelu, kRelu6, kGelu, kTanh };

  static Kind parse(const std::string& name) {
    if (name == "relu") return Kind::kRelu;
    if (name == "relu6") return Kind::kRelu6;
    if (name == "gelu") return Kind::kGelu;
    if (name == "tanh") return Kind::kTanh;
    if (name == "none") return Kind::kNone;
    throw std::runtime_error("unknown activation \"" + name + "\"");
  }

  Kind kind_;
};

// DenseNet's pre-activation max(v * scale[c] + shift[c], 0) of a case's input, or none.
class PreActivation {
 public:
  PreActivation(const Case& c, const Buffers& bufs) {
    if (!c.present("pre_scale")) return;
    scale_ = decode(bufs.at(c.field("pre_scale")));
    shift_ = decode(bufs.at(c.field("pre_shift")));
  }

  double operator()(long channel, double v) const {
    if (scale_.empty()) return v;
    const size_t i = static_cast<size_t>(channel);
    return std::max(v * scale_[i] + shift_[i], 0.0);
  }

 private:
  std::vector<double> scale_, shift_;
};

// A view's elements as doubles: `at(p, c)` is channel `offset + c` of pixel p. Default-constructed,
// the view a case does not have.
class ViewValues {
 public:
  ViewValues() = default;
  ViewValues(const View& v, const Buffers& bufs)
      : values_(decode(bufs.at(v.storage))), channels_(v.channels), offset_(v.offset) {}

  bool present() const { return !values_.empty(); }

  double at(long pixel, long channel) const {
    return values_[static_cast<size_t>(pixel * channels_ + offset_ + channel)];
  }

 private:
  std::vector<double> values_;
  long channels_ = 0, offset_ = 0;
};

// The view the case names in `key`, if it has one.
inline ViewValues optional_view(const Case& c, const Buffers& bufs, const std::string& key) {
  return c.present(key) ? ViewValues(view_field(c, key), bufs) : ViewValues();
}

// The values of the buffer the case names in `key`, if it has one (else empty).
inline std::vector<double> optional_values(const Case& c, const Buffers& bufs,
                                           const std::string& key) {
  return c.present(key) ? decode(bufs.at(c.field(key))) : std::vector<double>{};
}

inline Expected reference_conv2d(const Case& c, const Buffers& bufs) {
  const long n = c.integer("n"), h = c.integer("h"), w = c.integer("w"), cin = c.integer("cin");
  const long cout = c.integer("cout"), kh = c.integer("kh"), kw = c.integer("kw");
  const long sh = c.integer("strideH"), sw = c.integer("strideW"), ph = c.integer("padH");
  const long pw = c.integer("padW"), dh = c.integer("dilationH"), dw = c.integer("dilationW");
  const long groups = c.integer("groups"), oh = c.integer("oh"), ow = c.integer("ow");
  const long cin_g = cin / groups, cout_g = cout / groups;
  const View out = view_field(c, "output");
  const Activation act(c.field("act"));
  const std::vector<double> wt = decode(bufs.at(c.field("weight")));
  const std::vector<double> bias = optional_values(c, bufs, "bias");
  const ViewValues res = optional_view(c, bufs, "residual");
  // The input window, pre-activated, dense: x[pixel * cin + channel].
  std::vector<double> x(static_cast<size_t>(n * h * w * cin));
  {
    const ViewValues in(view_field(c, "input"), bufs);
    const PreActivation pre(c, bufs);
    for (long p = 0; p < n * h * w; ++p) {
      for (long ci = 0; ci < cin; ++ci) {
        x[static_cast<size_t>(p * cin + ci)] = pre(ci, in.at(p, ci));
      }
    }
  }
  Expected e{out, n * oh * ow, cout, {}};
  e.values.resize(static_cast<size_t>(e.pixels * cout));
  for (long b = 0; b < n; ++b)
    for (long y = 0; y < oh; ++y)
      for (long xo = 0; xo < ow; ++xo) {
        const long p = (b * oh + y) * ow + xo;
        for (long co = 0; co < cout; ++co) {
          const long g = co / cout_g;
          double acc = 0;
          for (long r = 0; r < kh; ++r) {
            const long ih = y * sh - ph + r * dh;
            if (ih < 0 || ih >= h) continue;
            for (long s = 0; s < kw; ++s) {
              const long iw = xo * sw - pw + s * dw;
              if (iw < 0 || iw >= w) continue;
              const double* xs = &x[static_cast<size_t>(((b * h + ih) * w + iw) * cin + g * cin_g)];
              const double* ws = &wt[static_cast<size_t>(((co * kh + r) * kw + s) * cin_g)];
              for (long cl = 0; cl < cin_g; ++cl) acc += xs[cl] * ws[cl];
            }
          }
          if (!bias.empty()) acc += bias[static_cast<size_t>(co)];
          if (res.present()) acc += res.at(p, co);
          e.values[static_cast<size_t>(p * cout + co)] = act(acc);
        }
      }
  return e;
}

inline Expected reference_linear(const Case& c, const Buffers& bufs) {
  const long m = c.integer("m"), k = c.integer("in"), nout = c.integer("out");
  const View out = view_field(c, "output");
  const Activation act(c.field("act"));
  const ViewValues x(view_field(c, "input"), bufs);
  const std::vector<double> wt = decode(bufs.at(c.field("weight")));
  const std::vector<double> bias = optional_values(c, bufs, "bias");
  const ViewValues res = optional_view(c, bufs, "residual");
  Expected e{out, m, nout, {}};
  e.values.resize(static_cast<size_t>(m * nout));
  std::vector<double> row(static_cast<size_t>(k));
  for (long r = 0; r < m; ++r) {
    for (long i = 0; i < k; ++i) row[static_cast<size_t>(i)] = x.at(r, i);
    for (long o = 0; o < nout; ++o) {
      const double* ws = &wt[static_cast<size_t>(o * k)];
      double acc = 0;
      for (long i = 0; i < k; ++i) acc += row[static_cast<size_t>(i)] * ws[i];
      if (!bias.empty()) acc += bias[static_cast<size_t>(o)];
      if (res.present()) acc += res.at(r, o);
      e.values[static_cast<size_t>(r * nout + o)] = act(acc);
    }
  }
  return e;
}

inline Expected reference_pool2d(const Case& c, const Buffers& bufs) {
  const long n = c.integer("n"), h = c.integer("h"), w = c.integer("w"), ch = c.integer("c");
  const long kh = c.integer("kh"), kw = c.integer("kw"), sh = c.integer("strideH");
  const long sw = c.integer("strideW"), ph = c.integer("padH"), pw = c.integer("padW");
  const long oh = c.integer("oh"), ow = c.integer("ow");
  const bool is_max = c.field("mode") == "max", count_pad = c.flag("countIncludePad");
  const View out = view_field(c, "output");
  const ViewValues x(view_field(c, "input"), bufs);
  const PreActivation pre(c, bufs);
  Expected e{out, n * oh * ow, ch, {}};
  e.values.resize(static_cast<size_t>(e.pixels * ch));
  for (long b = 0; b < n; ++b)
    for (long y = 0; y < oh; ++y)
      for (long xo = 0; xo < ow; ++xo) {
        const long p = (b * oh + y) * ow + xo;
        // PyTorch's divisor: the window clipped to the padded input, or to the input.
        const long h0 = y * sh - ph, w0 = xo * sw - pw;
        const long h1 = std::min(h0 + kh, h + ph), w1 = std::min(w0 + kw, w + pw);
        const long pool_size = (h1 - h0) * (w1 - w0);
        const long hs = std::max(h0, 0L), ws = std::max(w0, 0L);
        const long he = std::min(h1, h), we = std::min(w1, w);
        for (long k = 0; k < ch; ++k) {
          double acc = is_max ? -INFINITY : 0.0;
          for (long ih = hs; ih < he; ++ih)
            for (long iw = ws; iw < we; ++iw) {
              const double v = pre(k, x.at((b * h + ih) * w + iw, k));
              acc = is_max ? std::max(acc, v) : acc + v;
            }
          if (!is_max) acc /= static_cast<double>(count_pad ? pool_size : (he - hs) * (we - ws));
          e.values[static_cast<size_t>(p * ch + k)] = acc;
        }
      }
  return e;
}

inline Expected reference_global_avgpool(const Case& c, const Buffers& bufs) {
  const long n = c.integer("n"), hw = c.integer("h") * c.integer("w"), ch = c.integer("c");
  const View out = view_field(c, "output");
  const ViewValues x(view_field(c, "input"), bufs);
  const PreActivation pre(c, bufs);
  Expected e{out, n, ch, {}};
  e.values.resize(static_cast<size_t>(n * ch));
  for (long b = 0; b < n; ++b)
    for (long k = 0; k < ch; ++k) {
      double acc = 0;
      for (long p = 0; p < hw; ++p) acc += pre(k, x.at(b * hw + p, k));
      e.values[static_cast<size_t>(b * ch + k)] = acc / static_cast<double>(hw);
    }
  return e;
}

inline void normalize(const std::vector<double>& row, double eps,
                      const std::vector<double>& gamma, const std::vector<double>& beta,
                      double* out) {
  double mean = 0;
  for (double v : row) mean += v;
  mean /= static_cast<double>(row.size());
  double var = 0;
  for (double v : row) var += (v - mean) * (v - mean);
  var /= static_cast<double>(row.size());
  const double inv = 1.0 / std::sqrt(var + eps);
  for (size_t d = 0; d < row.size(); ++d) out[d] = (row[d] - mean) * inv * gamma[d] + beta[d];
}

inline Expected reference_layernorm(const Case& c, const Buffers& bufs) {
  const long rows = c.integer("rows"), dim = c.integer("dim");
  const double eps = c.real("eps");
  const View out = view_field(c, "output");
  const ViewValues x(view_field(c, "input"), bufs);
  const ViewValues res = optional_view(c, bufs, "residual");
  const std::vector<double> gamma = decode(bufs.at(c.field("gamma")));
  const std::vector<double> beta = decode(bufs.at(c.field("beta")));
  Expected e{out, rows, dim, {}};
  e.values.resize(static_cast<size_t>(rows * dim));
  std::vector<double> row(static_cast<size_t>(dim));
  for (long r = 0; r < rows; ++r) {
    for (long d = 0; d < dim; ++d) {
      row[static_cast<size_t>(d)] = x.at(r, d) + (res.present() ? res.at(r, d) : 0.0);
    }
    normalize(row, eps, gamma, beta, &e.values[static_cast<size_t>(r * dim)]);
  }
  return e;
}

inline Expected reference_embedding(const Case& c, const Buffers& bufs) {
  const long n = c.integer("n"), seq = c.integer("seq"), dim = c.integer("dim");
  const double eps = c.real("eps");
  const View out = view_field(c, "output");
  const std::vector<double> ids = decode(bufs.at(c.field("ids")));
  const std::vector<double> word = decode(bufs.at(c.field("word")));
  const std::vector<double> position = decode(bufs.at(c.field("position")));
  const std::vector<double> token_type = optional_values(c, bufs, "tokenType");
  const std::vector<double> gamma = decode(bufs.at(c.field("gamma")));
  const std::vector<double> beta = decode(bufs.at(c.field("beta")));
  Expected e{out, n * seq, dim, {}};
  e.values.resize(static_cast<size_t>(n * seq * dim));
  std::vector<double> row(static_cast<size_t>(dim));
  for (long r = 0; r < n * seq; ++r) {
    const long id = static_cast<long>(ids[static_cast<size_t>(r)]), s = r % seq;
    for (long d = 0; d < dim; ++d) {
      double v = word[static_cast<size_t>(id * dim + d)] +
                 position[static_cast<size_t>(s * dim + d)];
      if (!token_type.empty()) v += token_type[static_cast<size_t>(d)];
      row[static_cast<size_t>(d)] = v;
    }
    normalize(row, eps, gamma, beta, &e.values[static_cast<size_t>(r * dim)]);
  }
  return e;
}

inline Expected reference_attention(const Case& c, const Buffers& bufs) {
  const long n = c.integer("n"), seq = c.integer("seq"), heads = c.integer("heads");
  const long hd = c.integer("headDim");
  const double scale = c.real("scale");
  const ViewValues q(view_field(c, "q"), bufs), k(view_field(c, "k"), bufs);
  const ViewValues v(view_field(c, "v"), bufs);
  const View out = view_field(c, "output");
  Expected e{out, n * seq, heads * hd, {}};
  e.values.resize(static_cast<size_t>(n * seq * heads * hd));
  std::vector<double> p(static_cast<size_t>(seq));
  for (long b = 0; b < n; ++b)
    for (long hh = 0; hh < heads; ++hh)
      for (long i = 0; i < seq; ++i) {
        double peak = -INFINITY;
        for (long j = 0; j < seq; ++j) {
          double s = 0;
          for (long d = 0; d < hd; ++d) {
            s += q.at(b * seq + i, hh * hd + d) * k.at(b * seq + j, hh * hd + d);
          }
          p[static_cast<size_t>(j)] = s * scale;
          peak = std::max(peak, s * scale);
        }
        double sum = 0;
        for (double& x : p) sum += (x = std::exp(x - peak));
        for (long d = 0; d < hd; ++d) {
          double acc = 0;
          for (long j = 0; j < seq; ++j) {
            acc += p[static_cast<size_t>(j)] * v.at(b * seq + j, hh * hd + d);
          }
          e.values[static_cast<size_t>((b * seq + i) * heads * hd + hh * hd + d)] = acc / sum;
        }
      }
  return e;
}

inline Expected reference_add(const Case& c, const Buffers& bufs) {
  const long pixels = c.integer("pixels"), ch = c.integer("c");
  const View out = view_field(c, "output");
  const ViewValues a(view_field(c, "a"), bufs), bv(view_field(c, "b"), bufs);
  const Activation act(c.field("act"));
  Expected e{out, pixels, ch, {}};
  e.values.resize(static_cast<size_t>(pixels * ch));
  for (long p = 0; p < pixels; ++p)
    for (long k = 0; k < ch; ++k) {
      e.values[static_cast<size_t>(p * ch + k)] = act(a.at(p, k) + bv.at(p, k));
    }
  return e;
}

inline Expected reference(const Case& c, const Buffers& bufs) {
  if (c.kind == "conv2d") return reference_conv2d(c, bufs);
  if (c.kind == "linear") return reference_linear(c, bufs);
  if (c.kind == "pool2d") return reference_pool2d(c, bufs);
  if (c.kind == "global_avgpool") return reference_global_avgpool(c, bufs);
  if (c.kind == "layernorm") return reference_layernorm(c, bufs);
  if (c.kind == "embedding") return reference_embedding(c, bufs);
  if (c.kind == "attention") return reference_attention(c, bufs);
  if (c.kind == "add") return reference_add(c, bufs);
  throw std::runtime_error("case " + c.name + ": unknown kind \"" + c.kind + "\"");
}

// ---------------------------------------------------------------------------------------------
// Comparison

struct Comparison {
  double rel_l2 = 0, max_abs = 0;
  size_t bad_window = 0;   // window elements that are NaN, infinite or never written
  size_t bad_outside = 0;  // elements outside the window that are no longer poison
  bool ok(double tolerance) const {
    return bad_window == 0 && bad_outside == 0 && rel_l2 < tolerance;
  }
};

// Compares the output buffer with the expected window; everything outside the window must
// still hold the 0xFF poison.
inline Comparison compare(const Expected& e, const Buffer& got) {
  Comparison r;
  const size_t elem = got.storage->stype == "float16" ? 2 : 4;
  const size_t total = got.storage->elements;
  const size_t channels = static_cast<size_t>(e.output.channels);
  double err = 0, norm = 0;
  for (size_t i = 0; i < total; ++i) {
    const size_t p = i / channels, ch = i % channels;
    const bool inside = p < static_cast<size_t>(e.pixels) &&
                        ch >= static_cast<size_t>(e.output.offset) &&
                        ch < static_cast<size_t>(e.output.offset + e.width);
    if (!inside) {
      for (size_t b = 0; b < elem; ++b) {
        if (got.bytes[i * elem + b] != 0xFF) {
          ++r.bad_outside;
          break;
        }
      }
      continue;
    }
    const double v = got.at(i);
    const double want = e.values[p * static_cast<size_t>(e.width) + ch -
                                 static_cast<size_t>(e.output.offset)];
    if (!std::isfinite(v)) {
      ++r.bad_window;
      continue;
    }
    err += (v - want) * (v - want);
    norm += want * want;
    r.max_abs = std::max(r.max_abs, std::fabs(v - want));
  }
  r.rel_l2 = norm > 0 ? std::sqrt(err / norm) : std::sqrt(err);
  return r;
}

// Whether every byte of the buffer is still the 0xFF poison.
inline bool all_poison(const Buffer& b) {
  return std::all_of(b.bytes.begin(), b.bytes.end(), [](uint8_t v) { return v == 0xFF; });
}

inline double tolerance(const std::string& precision) {
  return precision == "float16" ? 1e-2 : 1e-5;
}

}  // namespace check
