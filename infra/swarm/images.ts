/**
 * SwarmImages: the image references the services run.
 *
 * Without a registry, every node already holds the images (the deploy command builds the server image
 * on the manager and loads all of them onto each node with `docker save | docker load`), and the
 * services name them by tag. With a registry, the stack tags each local image into the registry,
 * pushes it (docker_registry_image) and pins the services to the pushed digest, so every node runs
 * exactly the bytes that were built.
 */
import { Construct } from 'constructs';
import { Tag } from '@cdktf/provider-docker/lib/tag/index.js';
import { RegistryImage } from '@cdktf/provider-docker/lib/registry-image/index.js';

export interface ImageRefs {
  readonly server: string;
  readonly nats: string;
  readonly haproxy: string;
}

export interface SwarmImagesProps {
  /** '' = no registry. */
  readonly registry: string;
  /** Local image references (name:tag) present on the manager. */
  readonly local: ImageRefs;
}

/** `nats:2.15.2-alpine` in registry `reg.example:5000/team` → `reg.example:5000/team/nats:2.15.2-alpine`. */
export function registryRef(registry: string, local: string): string {
  const lastSlash = local.lastIndexOf('/');
  return `${registry}/${lastSlash >= 0 ? local.slice(lastSlash + 1) : local}`;
}

export class SwarmImages extends Construct {
  /** What the services' container_spec.image says. */
  readonly refs: ImageRefs;
  readonly pushed: RegistryImage[] = [];

  constructor(scope: Construct, id: string, props: SwarmImagesProps) {
    super(scope, id);
    if (props.registry === '') {
      this.refs = props.local;
      return;
    }
    const push = (key: keyof ImageRefs): string => {
      const target = registryRef(props.registry, props.local[key]);
      const tag = new Tag(this, `${key}-tag`, { sourceImage: props.local[key], targetImage: target });
      const image = new RegistryImage(this, `${key}-push`, {
        name: target,
        keepRemotely: true,
        // A re-tag (new local image id under the same name) pushes again.
        triggers: { source_image_id: tag.sourceImageId },
      });
      this.pushed.push(image);
      return `${target.replace(/:[^:/]+$/, '')}@${image.sha256Digest}`;
    };
    this.refs = { server: push('server'), nats: push('nats'), haproxy: push('haproxy') };
  }
}
